"""The head checks done with bytes methods refuse exactly what RFC 9112 says to.

The parser checks control characters, bare CR/LF and field names with
``bytes.count``/``translate`` and a cache of names already seen instead of
regular expressions (for speed). Here they are compared, on generated
heads, with the plain regular expressions that state the rules.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from authsome.proxy import http1
from authsome.proxy.http1 import ProtocolError, parse_request_head, parse_response_head

# The rules as written: a control character other than HTAB, or a CR/LF that is
# not part of a CRLF; a field name of RFC 9110 token characters.
BAD_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n")
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# Bytes near the edges of the rules, so examples hit them often.
EDGY = st.sampled_from(b'\x00\x01\x08\t\n\x0b\x0c\r\x0e\x1f !"(),:;<>@[]{}\x7f\x80\xff aZ09-_.')
FIELD = st.binary(max_size=40) | st.lists(EDGY, max_size=40).map(bytes)


def _refused(head: bytes) -> bool:
    try:
        parse_request_head(head)
    except ProtocolError:
        return True
    return False


@given(value=FIELD)
def test_control_bytes_and_bare_cr_lf_in_a_value(value: bytes) -> None:
    head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Field: v" + value + b"\r\n\r\n"
    if BAD_BYTE.search(head):
        assert _refused(head)
    elif b"\r\n" not in value:  # a CRLF in the value starts another line
        assert not _refused(head)


@given(name=FIELD)
def test_field_names(name: bytes) -> None:
    head = b"GET / HTTP/1.1\r\nHost: a\r\n" + name + b": v\r\n\r\n"
    valid = TOKEN.fullmatch(name) is not None and name.lower() not in (
        b"host",
        b"content-length",
        b"transfer-encoding",
    )
    if BAD_BYTE.search(head) or b":" in name or b"\r\n" in name:
        return  # other rules (or another split of the line) decide
    assert _refused(head) is not valid
    # A second time, when the name may come from the cache of checked names.
    assert _refused(head) is not valid


@given(name=FIELD)
def test_field_names_in_responses(name: bytes) -> None:
    if BAD_BYTE.search(name) or b":" in name or b"\r\n" in name:
        return
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + name + b": v\r\n\r\n"
    try:
        parse_response_head(head, request_method="GET")
    except ProtocolError:
        refused = True
    else:
        refused = False
    assert refused is (TOKEN.fullmatch(name) is None or name.lower() == b"content-length")


def test_a_name_is_lower_cased_and_recognised_whatever_its_case() -> None:
    for spelling in (b"CONTENT-LENGTH", b"Content-Length", b"content-length"):
        head = b"POST / HTTP/1.1\r\nHost: a\r\n" + spelling + b": 4\r\n\r\n"
        assert parse_request_head(head).body_length == 4


def test_the_cache_of_checked_names_stays_bounded() -> None:
    for index in range(3 * http1._MAX_CHECKED_NAMES):
        parse_request_head(b"GET / HTTP/1.1\r\nX-Name-%d: v\r\n\r\n" % index)
    assert len(http1._CHECKED_NAMES) <= http1._MAX_CHECKED_NAMES
    # Past the bound, names are still checked, just not remembered.
    assert _refused(b"GET / HTTP/1.1\r\nX Name: v\r\n\r\n")
    assert not _refused(b"GET / HTTP/1.1\r\nX-Unseen-Name: v\r\n\r\n")

"""The sans-io HTTP/1.1 boundary scanner, table by table."""

from __future__ import annotations

import pytest

from authsome.proxy.http1 import (
    CHUNKED,
    LENGTH,
    MAX_HEAD,
    UNTIL_CLOSE,
    BodyScanner,
    ProtocolError,
    head_end,
    parse_request_head,
    parse_response_head,
    rewrite_request_head,
    simple_response,
    valid_header,
    valid_host,
)


def req(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


GOOD = [
    (req("GET / HTTP/1.1", "Host: a"), 0, False, True),
    (req("POST /x HTTP/1.1", "Host: a", "Content-Length: 12"), 12, False, True),
    (req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: Chunked"), 0, True, True),
    (req("GET / HTTP/1.1", "Host: a", "Connection: keep-alive, Close"), 0, False, False),
    (req("GET / HTTP/1.0", "Host: a"), 0, False, False),
    (req("GET / HTTP/1.1", "Host: a", "Content-Length:  7 "), 7, False, True),
]


@pytest.mark.parametrize(("head", "length", "chunked", "keep_alive"), GOOD)
def test_request_framing(head: bytes, length: int, chunked: bool, keep_alive: bool) -> None:
    parsed = parse_request_head(head)
    assert (parsed.body_length, parsed.chunked, parsed.keep_alive) == (length, chunked, keep_alive)


SMUGGLING = {
    "both lengths": req("POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked"),
    "duplicate length": req("POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 5"),
    "list length": req("POST / HTTP/1.1", "Content-Length: 5, 5"),
    "signed length": req("POST / HTTP/1.1", "Content-Length: +5"),
    "hex length": req("POST / HTTP/1.1", "Content-Length: 0x5"),
    "empty length": req("POST / HTTP/1.1", "Content-Length: "),
    "gzip coding": req("POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked"),
    "identity coding": req("POST / HTTP/1.1", "Transfer-Encoding: identity"),
    "spaced coding": req("POST / HTTP/1.1", "Transfer-Encoding: chunked, "),
    "duplicate coding": req(
        "POST / HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"
    ),
    "chunked in 1.0": req("POST / HTTP/1.0", "Transfer-Encoding: chunked"),
    "obs-fold": req("GET / HTTP/1.1", "X-A: one", " two"),
    "tab fold": req("GET / HTTP/1.1", "X-A: one", "\ttwo"),
    "no colon": req("GET / HTTP/1.1", "Host a"),
    "space before colon": req("GET / HTTP/1.1", "Content-Length : 5"),
    "empty name": req("GET / HTTP/1.1", ": x"),
    "bare LF": b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
    "bare CR": b"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
    "NUL in value": req("GET / HTTP/1.1", "X: a\x00b"),
    "duplicate host": req("GET / HTTP/1.1", "Host: a", "Host: b"),
    "bad version": req("GET / HTTP/2.0", "Host: a"),
    "no version": req("GET /", "Host: a"),
    "two spaces": req("GET  / HTTP/1.1", "Host: a"),
    "space in target": req("GET /a b HTTP/1.1", "Host: a"),
    "too large": req("GET / HTTP/1.1", "X: " + "a" * MAX_HEAD),
}


@pytest.mark.parametrize("head", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_ambiguous_requests_are_refused(head: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_request_head(head)


def test_request_head_facts() -> None:
    head = req(
        "PUT /v1/a?b=c HTTP/1.1",
        "Host: api.example",
        "Proxy-Authorization: Basic cnVuOnQ=",
        "Expect: 100-continue",
        "Upgrade: websocket",
        "Content-Length: 3",
    )
    parsed = parse_request_head(head)
    assert parsed.method == "PUT"
    assert parsed.target == "/v1/a?b=c"
    assert parsed.expect_continue and parsed.upgrade and parsed.has_body
    assert parsed.proxy_authorization == b"Basic cnVuOnQ="
    assert parsed.host_header == b"api.example"


def test_head_end() -> None:
    assert head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0) == 18
    assert head_end(b"GET / HTTP/1.1\r\n", 0) == -1


RESPONSES = [
    ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", LENGTH, 5, True),
    ("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "GET", LENGTH, 5, True),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", CHUNKED, 0, True),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET", CHUNKED, 0, True),
    # Transfer-Encoding wins over Content-Length, and the connection is not reused.
    (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
        "GET",
        CHUNKED,
        0,
        False,
    ),
    ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", UNTIL_CLOSE, 0, False),
    ("HTTP/1.1 200 OK\r\n\r\n", "GET", UNTIL_CLOSE, 0, False),
    ("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "HEAD", LENGTH, 0, True),
    ("HTTP/1.1 204 No Content\r\n\r\n", "GET", LENGTH, 0, True),
    ("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", LENGTH, 0, True),
    ("HTTP/1.1 100 Continue\r\n\r\n", "POST", LENGTH, 0, True),
    ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", "GET", LENGTH, 1, False),
    ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", LENGTH, 1, False),
    (
        "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
        "GET",
        LENGTH,
        1,
        True,
    ),
    ("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET", LENGTH, 1, True),
]


@pytest.mark.parametrize(("head", "method", "framing", "length", "keep_alive"), RESPONSES)
def test_response_framing(
    head: str, method: str, framing: int, length: int, keep_alive: bool
) -> None:
    parsed = parse_response_head(head.encode(), request_method=method)
    assert (parsed.framing, parsed.body_length, parsed.keep_alive) == (framing, length, keep_alive)


@pytest.mark.parametrize(
    "head",
    [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    ],
)
def test_bad_responses_are_refused(head: str) -> None:
    with pytest.raises(ProtocolError):
        parse_response_head(head.encode(), request_method="GET")


def test_interim_responses() -> None:
    assert parse_response_head(b"HTTP/1.1 100 Continue\r\n\r\n", request_method="GET").interim
    assert not parse_response_head(b"HTTP/1.1 101 Switching\r\n\r\n", request_method="GET").interim


CHUNKED_BODY = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"


def scan_in_pieces(scanner: BodyScanner, data: bytes, size: int) -> int:
    consumed = 0
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        end = scanner.scan(piece, 0)
        consumed += end
        if scanner.done:
            break
    return consumed


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
def test_chunked_body_end_is_found_across_any_split(piece: int) -> None:
    scanner = BodyScanner(CHUNKED)
    data = CHUNKED_BODY + b"GET /next HTTP/1.1\r\n"
    assert scan_in_pieces(scanner, data, piece) == len(CHUNKED_BODY)
    assert scanner.done


def test_scan_starts_at_an_offset_and_stops_at_the_end() -> None:
    scanner = BodyScanner(CHUNKED)
    data = b"HEAD" + CHUNKED_BODY + b"NEXT"
    assert scanner.scan(data, 4) == 4 + len(CHUNKED_BODY)
    length = BodyScanner(LENGTH, 3)
    assert length.scan(b"xxabcdef", 2) == 5 and length.done


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhello!\r\n0\r\n\r\n",  # data longer than its size
        b"5\r\nhell",  # fine so far (needs more), checked below
        b"zz\r\nhello\r\n",
        b"5 \r\nhello\r\n",
        b"-5\r\nhello\r\n",
        b"5\nhello\r\n",
        b"11111111111111111\r\n",
        b"0\r\nbad trailer\r\n\r\n",
        b"5\r\nhello\r\n0\r\n X: folded\r\n\r\n",
    ],
)
def test_malformed_chunks_are_refused(body: bytes) -> None:
    scanner = BodyScanner(CHUNKED)
    if body == b"5\r\nhell":
        assert scanner.scan(body, 0) == len(body) and not scanner.done
        return
    with pytest.raises(ProtocolError):
        scanner.scan(body, 0)


def test_overlong_chunk_line_is_refused() -> None:
    scanner = BodyScanner(CHUNKED)
    with pytest.raises(ProtocolError):
        for _ in range(10):
            scanner.scan(b"1;" + b"e" * 1000, 0)


def test_until_close_takes_everything() -> None:
    scanner = BodyScanner(UNTIL_CLOSE)
    assert scanner.scan(b"abc", 1) == 3 and not scanner.done


def test_empty_length_body_is_done_at_once() -> None:
    assert BodyScanner(LENGTH, 0).done


def test_rewrite_replaces_named_headers_and_drops_proxy_ones() -> None:
    parsed = parse_request_head(
        req(
            "GET /a?b HTTP/1.1",
            "Host: h",
            "authorization: Bearer authsome-managed",
            "Proxy-Authorization: Basic x",
            "Proxy-Connection: keep-alive",
            "X-Keep: 1",
        )
    )
    out = rewrite_request_head(parsed, set_headers=((b"Authorization", b"Bearer real"),))
    assert out == req("GET /a?b HTTP/1.1", "Host: h", "X-Keep: 1", "Authorization: Bearer real")


def test_rewrite_to_origin_form_and_untouched_fast_path() -> None:
    parsed = parse_request_head(req("GET http://h/x?y HTTP/1.1", "Host: h"))
    assert rewrite_request_head(parsed, target="/x?y") == req("GET /x?y HTTP/1.1", "Host: h")
    plain = req("GET / HTTP/1.1", "Host: h", "X: 1")
    assert rewrite_request_head(parse_request_head(plain)) == plain


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        (b"Authorization", b"Bearer abc", True),
        (b"X-Api-Key", b"k\ty", True),
        (b"Authorization", b"Bearer a\r\nX-Evil: 1", False),
        (b"Authorization", b"a\nb", False),
        (b"Authorization", b"a\x00b", False),
        (b"Bad Name", b"x", False),
        (b"", b"x", False),
    ],
)
def test_valid_header(name: bytes, value: bytes, ok: bool) -> None:
    assert valid_header(name, value) is ok


def test_simple_response() -> None:
    out = simple_response(403, "no\n", close=True, extra_headers=(("X-A", "b"),))
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Content-Length: 3" in head and b"Connection: close" in head and b"X-A: b" in head
    assert body == b"no\n"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("api.example.com", True),
        ("api.example.com.", True),
        ("under_score.example", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("a" * 63 + ".example", True),
        ("a" * 64 + ".example", False),
        ("bad..example", False),
        ("-lead.example", False),
        ("", False),
        (".".join(["abcdefgh"] * 30), False),
    ],
)
def test_valid_host(host: str, ok: bool) -> None:
    assert valid_host(host) is ok

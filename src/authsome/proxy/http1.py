"""HTTP/1.1 message boundaries for the proxy, without I/O.

The proxy passes bytes through: it parses a request or response head only
far enough to know where the message ends (RFC 9112 §6), whether the
connection stays open, and to rewrite a request head. Bodies are never
decoded, only scanned for their end, so they stream at any size.

What this parser does not fully understand it refuses (request smuggling):
both ``Content-Length`` and ``Transfer-Encoding``, duplicate or malformed
``Content-Length``, a transfer coding other than exactly ``chunked``,
obsolete line folding, header lines without a colon, bare CR or LF, and
heads over ``MAX_HEAD`` bytes.
"""

from __future__ import annotations

import ipaddress
import re
from http import HTTPStatus

MAX_HEAD = 64 * 1024
_MAX_CHUNK_LINE = 4096

# RFC 9110 token characters.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e\x80-\xff]+) HTTP/1\.([01])")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
# Control characters other than HTAB, CR and LF (those two are allowed only as CRLF).
# Checked with bytes methods rather than a regex: a regex with look-arounds tried at
# every byte was a quarter of the proxy's instructions per request.
_CONTROL = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
_TOKEN_CHARS = b"!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\r\n]*)?\r\n")

# Header names the framing depends on, lower-cased.
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_EXPECT = b"expect"
_HOST = b"host"
_UPGRADE = b"upgrade"
_PROXY_AUTHORIZATION = b"proxy-authorization"
_PROXY_CONNECTION = b"proxy-connection"
_INTERESTING = frozenset(
    {
        _CONTENT_LENGTH,
        _TRANSFER_ENCODING,
        _CONNECTION,
        _EXPECT,
        _HOST,
        _UPGRADE,
        _PROXY_AUTHORIZATION,
        _PROXY_CONNECTION,
    }
)
# Response header names the framing depends on.
_FRAMING = frozenset({_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION})
# Removed before a request goes upstream: they are for this proxy only.
_PROXY_ONLY = frozenset({_PROXY_AUTHORIZATION, _PROXY_CONNECTION})

LENGTH = 0
CHUNKED = 1
UNTIL_CLOSE = 2


class ProtocolError(Exception):
    """The peer sent something this parser refuses; the message is safe to show."""


class RequestHead:
    """The facts about one request head that the proxy acts on."""

    __slots__ = (
        "body_length",
        "chunked",
        "expect_continue",
        "has_proxy_headers",
        "host_header",
        "keep_alive",
        "lines",
        "method",
        "names",
        "proxy_authorization",
        "target",
        "upgrade",
        "version",
    )

    def __init__(self) -> None:
        self.method = ""
        self.target = ""
        self.version = 1
        self.lines: list[bytes] = []
        self.names: list[bytes] = []  # lower-cased field names of lines[1:]
        self.body_length = 0
        self.chunked = False
        self.keep_alive = True
        self.expect_continue = False
        self.upgrade = False
        self.host_header: bytes | None = None
        self.proxy_authorization: bytes | None = None
        self.has_proxy_headers = False

    @property
    def has_body(self) -> bool:
        return self.chunked or self.body_length > 0

    def body_scanner(self) -> BodyScanner:
        return BodyScanner(CHUNKED if self.chunked else LENGTH, self.body_length)


class ResponseHead:
    """The facts about one response head that the proxy acts on."""

    __slots__ = ("body_length", "framing", "keep_alive", "status")

    def __init__(self, status: int, framing: int, body_length: int, keep_alive: bool) -> None:
        self.status = status
        self.framing = framing
        self.body_length = body_length
        self.keep_alive = keep_alive

    @property
    def interim(self) -> bool:
        """A 1xx other than 101: another head follows on the same exchange."""
        return self.status < 200 and self.status != 101

    def body_scanner(self) -> BodyScanner:
        return BodyScanner(self.framing, self.body_length)


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def valid_host(host: str) -> bool:
    """Whether ``host`` is an IP address or a DNS name with sane labels."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
    return True


def head_end(data: bytes, start: int) -> int:
    """Index just past the blank line ending the head at ``start``, or -1."""
    end = data.find(b"\r\n\r\n", start)
    return -1 if end < 0 else end + 4


def _split_head(head: bytes) -> list[bytes]:
    if len(head) > MAX_HEAD:
        raise ProtocolError("message head too large")
    lines = head[:-4].split(b"\r\n")
    crlf = len(lines) + 1  # the CRLFs between the lines and the two ending the head
    if (
        head.count(b"\r") != crlf
        or head.count(b"\n") != crlf
        or len(head.translate(None, _CONTROL)) != len(head)
    ):
        raise ProtocolError("control character or bare CR/LF in message head")
    return lines


def _header(line: bytes) -> tuple[bytes, bytes]:
    """Name (lower-cased) and trimmed value of one field line."""
    name, colon = _field_name(line)
    return name, line[colon + 1 :].strip(b" \t")


def _field_name(line: bytes) -> tuple[bytes, int]:
    """The lower-cased name of one field line and where its colon is.

    Callers slice the value only for the few fields they act on.
    """
    colon = line.find(b":")
    if colon <= 0:
        raise ProtocolError("header line without a name and colon")
    return _name(line, colon), colon


#: Field names already checked, as sent -> lower-cased (the same few recur on
#: every request); bounded, so names that never recur cannot grow it.
_CHECKED_NAMES: dict[bytes, bytes] = {}
_MAX_CHECKED_NAMES = 1024


def _name(line: bytes, colon: int) -> bytes:
    """The lower-cased field name before ``colon``, refused unless it is a token."""
    name = line[:colon]
    lowered = _CHECKED_NAMES.get(name)
    if lowered is None:
        if name.translate(None, _TOKEN_CHARS):
            # Covers whitespace before the colon and obsolete line folding.
            raise ProtocolError("malformed header name")
        lowered = name.lower()
        if len(_CHECKED_NAMES) < _MAX_CHECKED_NAMES:
            _CHECKED_NAMES[name] = lowered
    return lowered


def _tokens(value: bytes) -> list[bytes]:
    return [part.strip(b" \t").lower() for part in value.split(b",")]


def parse_request_head(head: bytes) -> RequestHead:
    """Parse a request head ending in CRLF CRLF, refusing what is ambiguous."""
    lines = _split_head(head)
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError("malformed request line")
    req = RequestHead()
    req.method = match.group(1).decode("ascii")
    req.target = match.group(2).decode("latin-1")
    req.version = int(match.group(3))
    req.lines = lines
    content_length: bytes | None = None
    transfer_encoding: bytes | None = None
    connection: list[bytes] = []
    names = req.names
    for line in lines[1:]:
        name, colon = _field_name(line)
        names.append(name)
        if name not in _INTERESTING:
            continue  # its value is never looked at
        value = line[colon + 1 :].strip(b" \t")
        if name == _CONTENT_LENGTH:
            if content_length is not None:
                raise ProtocolError("duplicate Content-Length")
            content_length = value
        elif name == _TRANSFER_ENCODING:
            if transfer_encoding is not None:
                raise ProtocolError("duplicate Transfer-Encoding")
            transfer_encoding = value
        elif name == _CONNECTION:
            connection.extend(_tokens(value))
        elif name == _EXPECT:
            req.expect_continue = value.lower() == b"100-continue"
        elif name == _HOST:
            if req.host_header is not None:
                raise ProtocolError("duplicate Host")
            req.host_header = value
        elif name == _UPGRADE:
            req.upgrade = True
        else:  # Proxy-Authorization, Proxy-Connection
            req.has_proxy_headers = True
            if name == _PROXY_AUTHORIZATION:
                req.proxy_authorization = value
    if transfer_encoding is not None:
        if content_length is not None:
            raise ProtocolError("both Content-Length and Transfer-Encoding")
        if transfer_encoding.lower() != b"chunked" or req.version == 0:
            raise ProtocolError("unsupported Transfer-Encoding")
        req.chunked = True
    elif content_length is not None:
        if not _DIGITS.fullmatch(content_length):
            raise ProtocolError("malformed Content-Length")
        req.body_length = int(content_length)
    if req.version == 1:
        req.keep_alive = b"close" not in connection
    else:
        req.keep_alive = False
    return req


def parse_response_head(head: bytes, *, request_method: str) -> ResponseHead:
    """Parse a response head and work out how its body is delimited."""
    lines = _split_head(head)
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError("malformed status line")
    version = int(match.group(1))
    status = int(match.group(2))
    lengths: set[bytes] = set()
    transfer_encoding: list[bytes] = []
    connection: list[bytes] = []
    for line in lines[1:]:
        name, colon = _field_name(line)
        if name not in _FRAMING:
            continue
        value = line[colon + 1 :].strip(b" \t")
        if name == _CONTENT_LENGTH:
            lengths.update(part.strip(b" \t") for part in value.split(b","))
        elif name == _TRANSFER_ENCODING:
            transfer_encoding.extend(_tokens(value))
        elif name == _CONNECTION:
            connection.extend(_tokens(value))
    keep_alive = b"close" not in connection if version == 1 else b"keep-alive" in connection
    if status < 200 or status in (204, 304) or request_method == "HEAD":
        return ResponseHead(status, LENGTH, 0, keep_alive)
    if transfer_encoding:
        if transfer_encoding[-1] == b"chunked":
            # RFC 9112 §6.3: Transfer-Encoding wins, but a message that also
            # carries Content-Length must not leave the connection reusable.
            return ResponseHead(status, CHUNKED, 0, keep_alive and not lengths)
        return ResponseHead(status, UNTIL_CLOSE, 0, False)
    if lengths:
        if len(lengths) != 1:
            raise ProtocolError("conflicting Content-Length")
        (length,) = lengths
        if not _DIGITS.fullmatch(length):
            raise ProtocolError("malformed Content-Length")
        return ResponseHead(status, LENGTH, int(length), keep_alive)
    return ResponseHead(status, UNTIL_CLOSE, 0, False)


_CHUNK_SIZE_LINE = 0
_CHUNK_DATA = 1
_CHUNK_DATA_END = 2
_TRAILER = 3


class BodyScanner:
    """Finds where a message body ends in a stream of bytes, without copying it.

    ``scan(data, start)`` returns the index in ``data`` just past the bytes
    that belong to this body; ``done`` turns true once the body is complete.
    Chunked bodies are checked chunk by chunk and passed through unchanged.
    """

    __slots__ = ("_line", "_remaining", "_state", "_trailer_bytes", "done", "framing")

    def __init__(self, framing: int, length: int = 0) -> None:
        self.framing = framing
        self._remaining = length
        self._state = _CHUNK_SIZE_LINE
        self._line = b""
        self._trailer_bytes = 0
        self.done = framing == LENGTH and length == 0

    def scan(self, data: bytes, start: int) -> int:
        framing = self.framing
        if framing == LENGTH:
            end = min(len(data), start + self._remaining)
            self._remaining -= end - start
            self.done = self._remaining == 0
            return end
        if framing == UNTIL_CLOSE:
            return len(data)
        return self._scan_chunked(data, start)

    def _scan_chunked(self, data: bytes, pos: int) -> int:
        size = len(data)
        while pos < size and not self.done:
            if self._state == _CHUNK_DATA:
                end = min(size, pos + self._remaining)
                self._remaining -= end - pos
                pos = end
                if self._remaining == 0:
                    self._state = _CHUNK_DATA_END
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:]
                if len(self._line) > _MAX_CHUNK_LINE:
                    raise ProtocolError("chunk line too long")
                return size
            line = data[pos : newline + 1]
            if self._line:
                line = self._line + line
                self._line = b""
            pos = newline + 1
            self._on_line(line)
        return pos

    def _on_line(self, line: bytes) -> None:
        if len(line) > _MAX_CHUNK_LINE or not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise ProtocolError("malformed chunk")
        state = self._state
        if state == _CHUNK_SIZE_LINE:
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise ProtocolError("malformed chunk size")
            self._remaining = int(match.group(1), 16)
            self._state = _CHUNK_DATA if self._remaining else _TRAILER
        elif state == _CHUNK_DATA_END:
            if line != b"\r\n":
                raise ProtocolError("chunk data longer than its size")
            self._state = _CHUNK_SIZE_LINE
        elif line == b"\r\n":
            self.done = True
        else:
            self._trailer_bytes += len(line)
            if self._trailer_bytes > MAX_HEAD:
                raise ProtocolError("trailer section too large")
            _header(line[:-2])


def rewrite_request_head(
    req: RequestHead,
    *,
    target: str | None = None,
    set_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """The head to send upstream: proxy-only headers removed, ``set_headers``
    replacing any header of the same name, and optionally a new target."""
    if target is None and not set_headers and not req.has_proxy_headers:
        return b"\r\n".join(req.lines) + b"\r\n\r\n"
    drop = _PROXY_ONLY.union([name.lower() for name, _ in set_headers])
    lines = req.lines
    request_line = lines[0]
    if target is not None:
        request_line = b"%s %s HTTP/1.%d" % (
            req.method.encode("ascii"),
            target.encode("latin-1"),
            req.version,
        )
    out = [request_line]
    out.extend([line for line, name in zip(lines[1:], req.names, strict=True) if name not in drop])
    for name, value in set_headers:
        out.append(name + b": " + value)
    out.append(b"")
    out.append(b"")
    return b"\r\n".join(out)


def valid_header(name: bytes, value: bytes) -> bool:
    """Whether a header to inject has a token name and a value free of control characters."""
    return bool(name) and not name.translate(None, _TOKEN_CHARS) and _CTL.search(value) is None


def simple_response(
    status: int,
    body: str,
    *,
    close: bool,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete text/plain response written by the proxy itself."""
    payload = body.encode("utf-8")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
    ]
    lines.extend(f"{name}: {value}" for name, value in extra_headers)
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload

"""What HTTP/2 to upstreams would cost the proxy per request, in CPU, without I/O.

The proxy speaks HTTP/1.1 to its clients (agents' HTTP clients, through
``HTTPS_PROXY``). Today it forwards each request to a pooled HTTP/1.1
upstream connection: it rewrites the request head, parses the response head
and scans the body for its end; body bytes pass through untouched. Speaking
HTTP/2 upstream instead means translating every exchange: the request head
into an HPACK-encoded HEADERS frame, the response's frames back into an
HTTP/1.1 head and a body framed for the client, flow-control updates in
between.

This script times both translations in one process, with the same request
(a typical API call, the credential header added) and the same small JSON
response, after the client's request head has been parsed (which both paths
share). HTTP/2 uses the ``h2`` library (the one httpx and mitmproxy use),
client side only: the server's frames are made once per request by an ``h2``
server connection, outside the timed sections.

    pip install h2            # not a dependency of Authsome
    python bench/upstream_h2.py

It asserts nothing; the figures are in bench/README.md and docs/proxy.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from authsome.proxy.http1 import parse_request_head, parse_response_head, rewrite_request_head

REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\n"
    b"Host: api.openai.com\r\n"
    b"User-Agent: OpenAI/Python 1.60.0\r\n"
    b"Accept: application/json\r\n"
    b"Content-Type: application/json\r\n"
    b"Authorization: Bearer authsome-managed\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
CREDENTIAL = ((b"Authorization", b"Bearer sk-bench-" + b"x" * 40),)
BODY = b'{"id":"chatcmpl-1","object":"chat.completion","choices":[]}' * 6
RESPONSE_HEADERS = [
    (b":status", b"200"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"date", b"Thu, 03 Dec 2026 22:00:00 GMT"),
    (b"x-request-id", b"req_0123456789abcdef"),
]
RESPONSE_H1 = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(name + b": " + value + b"\r\n" for name, value in RESPONSE_HEADERS[1:])
    + b"\r\n"
    + BODY
)
COUNT = 20_000
ROUNDS = 5


def http1_exchanges(count: int) -> float:
    """Seconds of CPU for ``count`` upstream exchanges the way the proxy does them."""
    req = parse_request_head(REQUEST)
    head_end = RESPONSE_H1.index(b"\r\n\r\n") + 4
    spent = 0.0
    for _ in range(count):
        started = time.process_time()
        rewrite_request_head(req, set_headers=CREDENTIAL)
        resp = parse_response_head(RESPONSE_H1[:head_end], request_method="POST")
        scanner = resp.body_scanner()
        scanner.scan(RESPONSE_H1, head_end)
        assert scanner.done
        spent += time.process_time() - started
    return spent


def http2_exchanges(count: int) -> float:
    """Seconds of CPU for ``count`` exchanges on one HTTP/2 upstream connection
    (client side only), with the HTTP/1.1 response head rebuilt for the client."""
    import h2.config  # type: ignore[import-not-found]  # optional: pip install h2
    import h2.connection  # type: ignore[import-not-found]
    import h2.events  # type: ignore[import-not-found]

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, validate_inbound_headers=False)
    )
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    req = parse_request_head(REQUEST)
    spent = 0.0
    for _ in range(count):
        started = time.process_time()
        headers = [
            (b":method", req.method.encode()),
            (b":scheme", b"https"),
            (b":authority", b"api.openai.com"),
            (b":path", req.target.encode()),
        ]
        replaced = {name.lower() for name, _ in CREDENTIAL}
        for line in req.lines[1:]:
            name, _, value = line.partition(b":")
            lower = name.lower()
            if lower not in replaced and lower not in (b"host", b"content-length"):
                headers.append((lower, value.strip()))
        headers.extend((name.lower(), value) for name, value in CREDENTIAL)
        stream = client.get_next_available_stream_id()
        client.send_headers(stream, headers, end_stream=True)
        outgoing = client.data_to_send()
        spent += time.process_time() - started

        for event in server.receive_data(outgoing):  # the upstream, not timed
            if isinstance(event, h2.events.RequestReceived):
                server.send_headers(event.stream_id, RESPONSE_HEADERS)
                server.send_data(event.stream_id, BODY, end_stream=True)
        incoming = server.data_to_send()

        started = time.process_time()
        parts: list[bytes] = []
        for event in client.receive_data(incoming):
            if isinstance(event, h2.events.ResponseReceived):
                status = b""
                lines = []
                for name, value in event.headers:
                    if name == b":status":
                        status = value
                    else:
                        lines.append(name + b": " + value)
                parts.append(b"HTTP/1.1 " + status + b" \r\n" + b"\r\n".join(lines) + b"\r\n\r\n")
            elif isinstance(event, h2.events.DataReceived):
                parts.append(event.data)
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        b"".join(parts)
        updates = client.data_to_send()  # WINDOW_UPDATE frames
        spent += time.process_time() - started
        server.receive_data(updates)
    return spent


def median_us(measure: Callable[[int], float]) -> float:
    rounds = [measure(COUNT) / COUNT * 1e6 for _ in range(ROUNDS)]
    return statistics.median(rounds)


def main() -> None:
    try:
        import h2  # noqa: F401
    except ImportError:
        sys.exit("needs the h2 library: pip install h2")
    http1 = median_us(http1_exchanges)
    http2 = median_us(http2_exchanges)
    print(f"CPU per upstream exchange, median of {ROUNDS} rounds of {COUNT:,}:")
    print(f"  HTTP/1.1 pass-through (head rewrite, response head, body scan): {http1:6.1f} µs")
    print(f"  HTTP/2 translation with h2 (client side only):                   {http2:6.1f} µs")
    print(f"  HTTP/2 costs {http2 - http1:+.1f} µs per request ({http2 / http1:.1f}x)")


if __name__ == "__main__":
    main()

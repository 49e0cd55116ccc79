"""The proxy's HTTP/1.1 handling on real sockets: reuse, streaming, framing, smuggling."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import requests

from authsome.proxy import Injection
from tests.unit.proxy.support import (
    SECRET,
    TOKEN,
    FakeBackend,
    ScriptedUpstream,
    World,
    read_all,
    read_head,
    read_response,
)

API = "https://api.provider.test"
INJECT = {"api.provider.test": Injection(headers=((b"Authorization", SECRET),))}
MB = 1024 * 1024

Configure = Callable[..., FakeBackend]


def session(world: World) -> requests.Session:
    client = requests.Session()
    client.trust_env = False
    client.proxies = {"https": world.proxy.url()}
    client.verify = str(world.proxy_ca_file)
    return client


def test_upstream_connections_are_reused_across_requests_and_tunnels(
    world: World, configure: Configure
) -> None:
    configure(injections=INJECT)
    before = world.echo.connections
    for _ in range(2):  # two client sessions: two CONNECT tunnels
        with session(world) as client:
            for index in range(10):
                response = client.get(f"{API}/echo?i={index}")
                assert response.json()["target"] == f"/echo?i={index}"
    assert world.echo.connections - before == 1


def test_a_backend_that_really_waits_is_handled_in_order(
    world: World, configure: Configure
) -> None:
    backend = configure(injections=INJECT)
    backend.slow_hosts.add("api.provider.test")
    with session(world) as client:
        for index in range(5):
            echo = client.get(f"{API}/slow?i={index}").json()
            assert echo["target"] == f"/slow?i={index}"
            assert [value for key, value in echo["headers"] if key == "Authorization"] == [
                SECRET.decode()
            ]
    assert len(backend.records) == 5


def test_chunked_request_body(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    parts = [os.urandom(size) for size in (1, 1000, 70_000, 3)]

    def body() -> Iterator[bytes]:
        yield from parts

    with session(world) as client:
        for _ in range(2):  # and again on the same pooled upstream connection
            result = client.post(f"{API}/upload", data=body()).json()
            assert result["bytes"] == sum(map(len, parts))
            assert result["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
        assert client.get(f"{API}/echo").status_code == 200


def test_expect_100_continue_is_relayed(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    with world.tls_tunnel() as tls:
        tls.sendall(
            b"POST /upload HTTP/1.1\r\nHost: api.provider.test\r\n"
            b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert read_head(tls).startswith(b"HTTP/1.1 100 Continue")
        tls.sendall(b"hello")
        head, body = read_response(tls)
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_curl_upload_with_expect_continue(
    world: World, configure: Configure, tmp_path: Path
) -> None:
    configure(injections=INJECT)
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(300_000))
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--proxy",
            world.proxy.url(),
            "--cacert",
            str(world.proxy_ca_file),
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            f"@{payload}",
            f"{API}/upload",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert json.loads(out.stdout)["sha256"] == hashlib.sha256(payload.read_bytes()).hexdigest()


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_20_mb_bodies_stream_both_ways_without_being_buffered(
    world: World, configure: Configure
) -> None:
    configure(injections=INJECT)
    size = 20 * MB
    block = os.urandom(64 * 1024)
    with session(world) as client:
        client.get(f"{API}/echo")  # warm up: tunnel, pool, TLS contexts
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
        start = _rss_kib("VmRSS")

        def upload() -> Iterator[bytes]:
            for _ in range(size // len(block)):
                yield block

        result = client.post(f"{API}/upload", data=upload()).json()
        assert result["bytes"] == size
        expected = hashlib.sha256()
        for piece in upload():
            expected.update(piece)
        assert result["sha256"] == expected.hexdigest()

        received = 0
        with client.get(f"{API}/download/{size}", stream=True) as response:
            for chunk in response.iter_content(256 * 1024):
                received += len(chunk)
        assert received == size
        peak = _rss_kib("VmHWM")
    # Proxy, upstream and client all live in this process; none of them
    # may hold a body whole (20 MB), in either direction.
    assert (peak - start) * 1024 < 8 * MB, f"peak RSS grew by {(peak - start) // 1024} MiB"


def test_server_sent_events_arrive_one_by_one(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    arrivals: list[float] = []
    client = httpx.Client(proxy=world.proxy.url(), verify=world.client_context())
    with client, client.stream("GET", f"{API}/sse?count=4&interval=0.25") as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.15, gaps


def test_pipelined_requests_are_answered_in_order(world: World, configure: Configure) -> None:
    backend = configure(injections=INJECT)
    requests_ = b"".join(
        b"GET /echo?n=%d HTTP/1.1\r\nHost: api.provider.test\r\n\r\n" % index for index in range(5)
    ) + (b"POST /upload HTTP/1.1\r\nHost: api.provider.test\r\nContent-Length: 3\r\n\r\nabc")
    with world.tls_tunnel() as tls:
        tls.sendall(requests_)
        targets = []
        for _ in range(5):
            head, body = read_response(tls)
            assert head.startswith(b"HTTP/1.1 200")
            targets.append(json.loads(body)["target"])
        _, body = read_response(tls)
    assert targets == [f"/echo?n={index}" for index in range(5)]
    assert json.loads(body)["bytes"] == 3
    assert [record.path for record in backend.records] == ["/echo"] * 5 + ["/upload"]


@pytest.mark.parametrize("attempt", range(10))
def test_client_hello_sent_with_the_connect_is_not_lost(
    world: World, configure: Configure, attempt: int
) -> None:
    configure(injections=INJECT)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = world.client_context().wrap_bio(incoming, outgoing, server_hostname="api.provider.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    auth = base64.b64encode(f"run:{TOKEN}".encode())
    sock = socket.create_connection(("127.0.0.1", world.proxy.port), timeout=10)
    with sock:
        # One write: CONNECT head, then the ClientHello, before any reply.
        sock.sendall(
            b"CONNECT api.provider.test:443 HTTP/1.1\r\nHost: api.provider.test:443\r\n"
            b"Proxy-Authorization: Basic " + auth + b"\r\n\r\n" + outgoing.read()
        )
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, rest = buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        incoming.write(rest)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(b"GET /echo HTTP/1.1\r\nHost: api.provider.test\r\nConnection: close\r\n\r\n")
        sock.sendall(outgoing.read())
        plaintext = b""
        while True:
            try:
                chunk = tls.read(65536)
                if not chunk:
                    break
                plaintext += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
            data = sock.recv(65536)
            if not data:
                break
            incoming.write(data)
    assert plaintext.startswith(b"HTTP/1.1 200")
    assert SECRET in plaintext


SMUGGLED = {
    "both lengths": b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "duplicate length": b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
    b"Content-Length: 30\r\n\r\nx",
    "malformed length": b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nx",
    "other coding": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "obs-fold": b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n",
    "no colon": b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n",
    "huge head": b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: " + b"b" * (70 * 1024) + b"\r\n\r\n",
    "bad chunk": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabcdef\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("raw", SMUGGLED.values(), ids=SMUGGLED.keys())
def test_ambiguous_requests_get_400_and_the_connection_closes(
    world: World, configure: Configure, raw: bytes
) -> None:
    backend = configure(injections=INJECT)
    with world.tls_tunnel() as tls:
        tls.sendall(raw)
        reply = read_all(tls)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:100]
    assert b"Connection: close" in reply
    if b"bad chunk" not in raw and b"abcdef" not in raw:
        assert backend.decisions == []  # refused before anything was decided or sent


def test_plain_http_smuggling_is_refused_too(world: World, configure: Configure) -> None:
    configure()
    auth = base64.b64encode(f"run:{TOKEN}".encode())
    with socket.create_connection(("127.0.0.1", world.proxy.port), timeout=10) as sock:
        sock.sendall(
            b"POST http://plain.example/ HTTP/1.1\r\nHost: plain.example\r\n"
            b"Proxy-Authorization: Basic " + auth + b"\r\n"
            b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        assert read_all(sock).startswith(b"HTTP/1.1 400")


def test_bodiless_responses_keep_the_connection_in_step(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    with world.tls_tunnel() as tls:
        for request, status in [
            (b"HEAD /download/5000 HTTP/1.1", b"200"),
            (b"GET /status/204 HTTP/1.1", b"204"),
            (b"GET /status/304 HTTP/1.1", b"304"),
            (b"HEAD /chunked HTTP/1.1", b"200"),
        ]:
            tls.sendall(request + b"\r\nHost: api.provider.test\r\n\r\n")
            head = read_head(tls)
            assert head.startswith(b"HTTP/1.1 " + status), head
        tls.sendall(b"GET /chunked HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
        head = read_head(tls)
        assert b"Transfer-Encoding: chunked" in head
        body = b""
        while not body.endswith(b"0\r\n\r\n"):
            body += tls.recv(65536)
        assert b"hello " in body and b"world" in body
        tls.sendall(b"GET /echo HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
        head, body = read_response(tls)
        assert json.loads(body)["target"] == "/echo"


def test_response_delimited_by_close(world: World, configure: Configure) -> None:
    backend = configure(injections=INJECT)
    with world.tls_tunnel() as tls:
        tls.sendall(b"GET /close-delimited HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
        reply = read_all(tls)
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"\r\n\r\nbody until close")
    assert backend.records[0].outcome == "success"


def test_connection_close_from_the_client(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    with world.tls_tunnel() as tls:
        tls.sendall(
            b"GET /echo HTTP/1.1\r\nHost: api.provider.test\r\nConnection: close\r\n\r\n"
            b"GET /never HTTP/1.1\r\nHost: api.provider.test\r\n\r\n"
        )
        reply = read_all(tls)
    assert reply.count(b"HTTP/1.1 200") == 1
    assert b"/never" not in reply


def test_a_pooled_connection_closed_by_the_server_is_retried_once(
    world: World, configure: Configure
) -> None:
    def handler(index: int, tls: ssl.SSLSocket) -> None:
        served = 0
        while True:
            head = read_head(tls)
            if not head:
                return
            if index == 0 and served == 1:
                return  # closes as the second request arrives, without answering
            served += 1
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with ScriptedUpstream(world.test_ca, handler) as upstream:
        backend = configure(
            injections=INJECT, addresses={"api.provider.test": ("127.0.0.1", upstream.port)}
        )
        with session(world) as client:
            assert client.get(f"{API}/one").text == "ok"
            assert client.get(f"{API}/two").text == "ok"
        assert upstream.connections == 2
    assert [record.outcome for record in backend.records] == ["success", "success"]


def test_websocket_style_upgrade_becomes_a_byte_stream(world: World, configure: Configure) -> None:
    seen: list[bytes] = []

    def handler(index: int, tls: ssl.SSLSocket) -> None:
        seen.append(read_head(tls))
        tls.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
        )
        while data := tls.recv(1024):
            tls.sendall(data.upper())

    with ScriptedUpstream(world.test_ca, handler) as upstream:
        backend = configure(
            injections=INJECT, addresses={"api.provider.test": ("127.0.0.1", upstream.port)}
        )
        with world.tls_tunnel() as tls:
            tls.sendall(
                b"GET /ws HTTP/1.1\r\nHost: api.provider.test\r\n"
                b"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n"
            )
            assert read_head(tls).startswith(b"HTTP/1.1 101")
            tls.sendall(b"ping")
            assert tls.recv(4) == b"PING"
    assert SECRET in seen[0]
    assert backend.records[0].status == 101


def test_a_failing_backend_gives_502_not_a_hang(world: World, configure: Configure) -> None:
    backend = configure(injections=INJECT)

    async def broken(*args: object, **kwargs: object) -> Injection | None:
        raise RuntimeError("vault locked")

    backend.injection_for = broken  # type: ignore[method-assign]
    try:
        with session(world) as client:
            response = client.get(f"{API}/echo")
        assert response.status_code == 502
        assert "vault locked" not in response.text
        assert backend.records[0].outcome == "failure"
    finally:
        del backend.injection_for


def test_invalid_injected_header_is_never_sent(world: World, configure: Configure) -> None:
    backend = configure(
        injections={
            "api.provider.test": Injection(headers=((b"Authorization", b"a\r\nX-Evil: 1"),))
        }
    )
    with session(world) as client:
        response = client.get(f"{API}/echo")
    assert response.status_code == 502
    assert backend.records[0].outcome == "failure"

"""Refusals, upstream verification failures, WebSocket relaying and freed upstreams."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from collections.abc import Callable

import httpx
import pytest
import requests
from websockets.sync.client import connect as ws_connect

from authsome.proxy import Injection
from authsome.testing.upstream import HttpsEchoServer
from tests.unit.proxy.support import SECRET, FakeBackend, World, read_head

API = "https://api.provider.test"
INJECT = {"api.provider.test": Injection(headers=((b"Authorization", SECRET),), provider="acme")}
REFUSAL = "authsome: other.provider.test matches no provider and this run refuses other hosts"

Configure = Callable[..., FakeBackend]


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_refused_unmatched_host_gets_403_on_connect_and_is_audited(
    world: World, configure: Configure
) -> None:
    backend = configure(injections=INJECT)
    backend.refusals["other.provider.test"] = REFUSAL
    before = world.echo.connections
    sock = world.tunnel_raw("other.provider.test")
    head = read_head(sock)
    body = sock.recv(4096)
    sock.close()
    assert head.startswith(b"HTTP/1.1 403 Forbidden")
    assert body.decode().strip() == REFUSAL
    assert world.echo.connections == before
    [record] = backend.records
    assert (record.method, record.host, record.status, record.outcome, record.reason) == (
        "CONNECT",
        "other.provider.test",
        403,
        "denied",
        REFUSAL,
    )
    # Without the refusal the same host is tunnelled.
    backend.refusals.clear()
    verify = ssl.create_default_context(cafile=str(world.test_ca_file))
    with httpx.Client(proxy=world.proxy.url(), verify=verify) as client:
        assert client.get("https://other.provider.test/x").status_code == 200


def test_refused_unmatched_host_gets_403_over_plain_http(
    world: World, configure: Configure
) -> None:
    backend = configure(addresses={"plain.example": ("127.0.0.1", 1)})
    backend.refusals["plain.example"] = "authsome: plain.example is refused"
    response = requests.get(
        "http://plain.example/a?b=c", proxies={"http": world.proxy.url()}, timeout=10
    )
    assert response.status_code == 403
    assert response.text.strip() == "authsome: plain.example is refused"
    [record] = backend.records
    assert (record.method, record.path, record.outcome) == ("GET", "/a", "denied")


def test_upstream_with_an_expired_certificate_gets_502_with_the_reason(
    world: World, configure: Configure
) -> None:
    with HttpsEchoServer(world.test_ca, ("api.provider.test",), expired=True) as expired:
        backend = configure(
            injections=INJECT, addresses={"api.provider.test": ("127.0.0.1", expired.port)}
        )
        with httpx.Client(proxy=world.proxy.url(), verify=world.client_context()) as client:
            response = client.get(f"{API}/v1/x")
        assert response.status_code == 502
        assert "TLS verification of api.provider.test:443 failed" in response.text
        assert "certificate has expired" in response.text
        assert expired.open_connections == 0  # the handshake never completed
    [record] = backend.records
    assert record.outcome == "failure" and record.status == 502
    assert "certificate has expired" in (record.reason or "")


def test_websocket_upgrade_carries_the_header_and_relays_frames(
    world: World, configure: Configure
) -> None:
    backend = configure(injections=INJECT)
    with ws_connect(
        "wss://api.provider.test/ws?room=1",
        proxy=world.proxy.url(),
        ssl=world.client_context(),
        additional_headers={"Authorization": "Bearer authsome-managed"},
        open_timeout=10,
        max_size=None,
    ) as ws:
        handshake = json.loads(ws.recv(timeout=10))
        authorization = [v for k, v in handshake["headers"] if k.lower() == "authorization"]
        assert authorization == [SECRET.decode()]
        assert not [k for k, _ in handshake["headers"] if k.lower() == "proxy-authorization"]
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        blob = os.urandom(300_000)
        ws.send(blob)
        assert ws.recv(timeout=10) == blob
        ws.ping(b"p").wait(10)
    [record] = backend.records
    assert (record.method, record.path, record.status, record.outcome) == (
        "GET",
        "/ws",
        101,
        "success",
    )


def test_client_disconnect_mid_download_frees_the_upstream_connection(
    world: World, configure: Configure
) -> None:
    backend = configure(injections=INJECT)
    assert _wait_until(lambda: world.echo.open_connections <= 1)
    before = world.echo.connections
    tls = world.tls_tunnel()
    tls.sendall(b"GET /download/500000000 HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
    assert read_head(tls).startswith(b"HTTP/1.1 200")
    assert len(tls.recv(65536)) > 0
    assert world.echo.connections == before + 1  # a fresh upstream connection, streaming
    busy = world.echo.open_connections
    tls.close()
    # The proxy aborts its upstream connection, so the upstream stops sending.
    assert _wait_until(lambda: world.echo.open_connections == busy - 1)
    assert _wait_until(lambda: bool(backend.records))
    [record] = backend.records
    assert record.outcome == "failure" and record.reason == "the client closed the connection"
    # ... and that connection never went back to the pool.
    with httpx.Client(proxy=world.proxy.url(), verify=world.client_context()) as client:
        assert client.get(f"{API}/after").status_code == 200


def test_a_client_that_never_finishes_its_tls_handshake_is_dropped(
    world: World, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(injections=INJECT)
    monkeypatch.setattr(world.proxy.server, "handshake_timeout", 0.3)
    sock = world.tunnel("api.provider.test")
    started = time.monotonic()
    assert sock.recv(1) == b""  # sends nothing; the proxy gives up by itself
    assert time.monotonic() - started < 3
    sock.close()


def test_idle_client_connections_are_closed_but_slow_exchanges_are_not(
    world: World, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(injections=INJECT)
    monkeypatch.setattr(world.proxy.server, "idle_timeout", 0.4)
    with world.tls_tunnel() as tls:
        # The response takes 1.2 s, three times the idle timeout: never cut.
        tls.sendall(b"GET /sse?count=4&interval=0.3 HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            chunk = tls.recv(65536)
            assert chunk, data
            data += chunk
        assert data.count(b"data: event") == 4
        finished = time.monotonic()
        assert tls.recv(1) == b""  # then idle: closed (with a TLS close_notify)
        assert 0.3 < time.monotonic() - finished < 3
    # A plain proxy connection that never sends a request is closed too.
    with socket.create_connection(("127.0.0.1", world.proxy.port), timeout=10) as idle:
        idle.sendall(b"GET http://plain.example/ HTTP/1.1\r\n")  # a head that never ends
        assert idle.recv(1) == b""


def test_idle_pooled_upstream_connections_are_closed(
    world: World, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(injections=INJECT)
    with httpx.Client(proxy=world.proxy.url(), verify=world.client_context()) as client:
        assert client.get(f"{API}/pooled").status_code == 200
    assert world.echo.open_connections >= 1
    monkeypatch.setattr(world.proxy.server.pool, "idle_timeout", 0.3)
    assert _wait_until(lambda: world.echo.open_connections == 0)

"""Bodies, slow clients and connection floods: refused early, and /health answers throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.adversarial.watch import HealthWatch
from tests.support.daemon import Daemon, start_daemon

LIMITS = {
    "AUTHSOME_HEADER_TIMEOUT": "1.5",
    "AUTHSOME_BODY_TIMEOUT": "1.5",
    "AUTHSOME_MAX_CONNECTIONS_PER_CLIENT": "8",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("limits") / "home", env=LIMITS)
    yield daemon
    daemon.stop()


def _address(daemon: Daemon) -> tuple[str, int]:
    parts = urlsplit(daemon.url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def _connect(daemon: Daemon, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(_address(daemon))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_declared_oversize_body_is_refused_before_it_is_sent(limited: Daemon) -> None:
    with HealthWatch(limited.url) as watch, _connect(limited) as sock:
        sock.sendall(
            b"POST /connections HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 2097152\r\n\r\n" + b"{" * 1024
        )
        started = time.monotonic()
        answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < 1.4, "answered without waiting for the body"
        time.sleep(0.3)
    assert watch.failures == [] and watch.answers > 0


def test_streamed_oversize_body_is_cut_off_past_the_limit(limited: Daemon) -> None:
    with HealthWatch(limited.url) as watch, _connect(limited) as sock:
        sock.sendall(
            b"POST /connections HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        sent = 0
        try:
            for _ in range(160):  # up to 10 MiB, far past the 1 MiB limit
                sock.sendall(chunk)
                sent += 0x10000
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024, "the daemon stopped reading well before the end"
    assert watch.failures == []


def test_a_slow_request_head_times_out(limited: Daemon) -> None:
    with HealthWatch(limited.url) as watch, _connect(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = b""
        try:
            for _ in range(20):  # a header byte every 0.25 s never completes the head
                sock.sendall(b"X")
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_all(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    assert elapsed < 4.5
    assert watch.failures == []


def test_a_silent_connection_is_closed(limited: Daemon) -> None:
    with _connect(limited) as sock:
        started = time.monotonic()
        answer = _read_all(sock)
        assert time.monotonic() - started < 4
    assert answer.startswith(b"HTTP/1.1 408") or answer == b""


def test_a_stalled_body_times_out(limited: Daemon) -> None:
    with HealthWatch(limited.url) as watch, _connect(limited) as sock:
        sock.sendall(
            b"POST /connections HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"provider":'
        )
        started = time.monotonic()
        answer = _read_all(sock)
        assert time.monotonic() - started < 5
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert watch.failures == []


def test_too_many_connections_from_one_client_are_refused(limited: Daemon) -> None:
    with HealthWatch(limited.url) as watch:
        held = [_connect(limited, "127.0.0.2") for _ in range(8)]
        try:
            with _connect(limited, "127.0.0.2") as extra:
                answer = _read_all(extra)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
            assert b"too_many_connections" in answer
            # Another client (127.0.0.1) is served meanwhile.
            assert httpx.get(limited.url + "/health", timeout=2).status_code == 200
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.3)
        with _connect(limited, "127.0.0.2") as again:
            again.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert _read_all(again).startswith(b"HTTP/1.1 200")
    assert watch.failures == []


def test_normal_keep_alive_traffic_is_unaffected(limited: Daemon, tmp_path: Path) -> None:
    with httpx.Client(timeout=5) as client:
        for _ in range(50):
            assert client.get(limited.url + "/health").status_code == 200

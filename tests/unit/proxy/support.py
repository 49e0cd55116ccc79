"""Helpers for the proxy tests: a backend, a proxy in a thread, raw-socket readers.

``FakeBackend`` is a test double of the daemon: a real class implementing
the ``ProxyBackend`` protocol with tables instead of a database.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authsome.proxy import CertificateAuthority, Injection, ProxyServer, RunSession
from authsome.testing.upstream import HttpsEchoServer, TestCA

TOKEN = "tok-3f9a1c"
RUN = RunSession(run_id="run-1", identity="brisk-amber-otter", principal_id="p1", vault_id="v1")
SECRET = b"Bearer sk-live-secret-value"


@dataclass
class Record:
    method: str
    host: str
    path: str
    status: int
    injection: Injection | None
    outcome: str
    reason: str | None


@dataclass
class FakeBackend:
    intercept: set[str] = field(default_factory=set)
    injections: dict[str, Injection] = field(default_factory=dict)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    decisions: list[tuple[str, str, str]] = field(default_factory=list)
    slow_hosts: set[str] = field(default_factory=set)
    refusals: dict[str, str] = field(default_factory=dict)

    def run_for_token(self, token: str) -> RunSession | None:
        return RUN if token == TOKEN else None

    def should_intercept(self, run: RunSession, host: str, port: int) -> bool:
        return host in self.intercept

    def unmatched_refusal(self, run: RunSession, host: str, port: int) -> str | None:
        return self.refusals.get(host)

    async def injection_for(
        self, run: RunSession, *, host: str, port: int, method: str, path: str
    ) -> Injection | None:
        self.decisions.append((method, host, path))
        if host in self.slow_hosts:
            await asyncio.sleep(0.01)  # a backend that really has to wait
        return self.injections.get(host)

    def record_request(
        self,
        run: RunSession,
        *,
        method: str,
        host: str,
        path: str,
        status: int,
        injection: Injection | None,
        outcome: str,
        reason: str | None,
        duration_ms: float,
    ) -> None:
        assert duration_ms >= 0
        self.records.append(Record(method, host, path, status, injection, outcome, reason))

    def upstream_address(self, host: str, port: int) -> tuple[str, int]:
        return self.addresses.get(host, (host, port))


class ProxyThread:
    """A ProxyServer on its own event loop in a thread."""

    def __init__(
        self,
        backend: FakeBackend,
        ca: CertificateAuthority,
        upstream_ca: Path,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self.backend = backend
        self.server = ProxyServer(backend, ca, upstream_ca=upstream_ca)
        self.loop = loop or _new_loop()
        self.port = 0
        self._sock = sock
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ProxyThread:
        self._thread.start()
        if self._sock is not None:
            self.port = self.call(self.server.start_on(self._sock))
        else:
            self.port = self.call(self.server.start("127.0.0.1", 0))
        return self

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def url(self, token: str = TOKEN) -> str:
        return f"http://run:{token}@127.0.0.1:{self.port}"


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


@dataclass
class World:
    proxy: ProxyThread
    backend: FakeBackend
    echo: HttpsEchoServer
    test_ca: TestCA
    proxy_ca: CertificateAuthority
    proxy_ca_file: Path  # what an agent trusts: the Authsome CA only
    test_ca_file: Path  # the upstream's own CA

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.proxy_ca_file))

    def tunnel_raw(self, host: str, port: int = 443, token: str = TOKEN) -> socket.socket:
        """A socket that has sent a CONNECT; the reply is still to be read."""
        sock = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10)
        auth = base64.b64encode(f"run:{token}".encode()).decode()
        sock.sendall(
            f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode()
        )
        return sock

    def tunnel(self, host: str, port: int = 443, token: str = TOKEN) -> socket.socket:
        """A raw socket through CONNECT, before any TLS."""
        sock = self.tunnel_raw(host, port, token)
        reply = read_head(sock)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        return sock

    def tls_tunnel(self, host: str = "api.provider.test") -> ssl.SSLSocket:
        sock = self.tunnel(host)
        return self.client_context().wrap_socket(sock, server_hostname=host)


def read_head(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock: socket.socket | ssl.SSLSocket) -> tuple[bytes, bytes]:
    """One response with a Content-Length body: (head, body)."""
    head = read_head(sock)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return head, body


def read_all(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


class ScriptedUpstream:
    """A TLS server whose connections are handled by a test's own function.

    For upstream behaviour the echo server does not have: closing a pooled
    connection as a request arrives, or switching protocols.
    """

    def __init__(self, test_ca: TestCA, handler: Callable[[int, ssl.SSLSocket], None]) -> None:
        self._context = test_ca.server_context("api.provider.test")
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            threading.Thread(target=self._serve, args=(index, sock), daemon=True).start()

    def _serve(self, index: int, sock: socket.socket) -> None:
        try:
            with self._context.wrap_socket(sock, server_side=True) as tls:
                self._handler(index, tls)
        except (OSError, ssl.SSLError):
            pass

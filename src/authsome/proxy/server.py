"""The proxy listener: client connections, CONNECT handling and raw tunnels.

Each client connection starts as a plain HTTP proxy connection. A CONNECT
is authenticated once; the backend then decides, before any TLS work,
whether the host is intercepted (TLS terminated with a certificate from our
CA, requests handled by a ``Session``), gets a raw TCP tunnel that the
proxy never looks into, or is refused.

Timeouts, checked by a sweep about once a second (nothing per request): a
client must finish its TLS handshake within ``handshake_timeout``; a request
head must be complete ``head_timeout`` after its first byte arrived (for the
first request of a connection: after the connection opened), absolute, so
sending a byte at a time does not extend it (``408``, then close); a client
connection with no exchange in progress is closed after ``idle_timeout``;
idle pooled upstream connections are closed after the pool's
``idle_timeout``. An exchange in progress (a slow download, an SSE stream,
an upgraded WebSocket) and a raw tunnel are never cut: their ends decide.

A client address with ``max_per_client`` connections open has further ones
answered ``503`` and closed at once (0: no cap). Every local agent shares
127.0.0.1, so the cap bounds a flood rather than a busy client.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from collections import Counter
from pathlib import Path
from typing import cast

from authsome.proxy.backend import ProxyBackend
from authsome.proxy.ca import CertificateAuthority
from authsome.proxy.http1 import RequestHead, simple_response, valid_host
from authsome.proxy.session import PROXY_AUTH_REQUIRED, Session, Target, authenticate
from authsome.proxy.tls import TlsEndpoint
from authsome.proxy.upstream import (
    CONNECT_TIMEOUT,
    UpstreamPool,
    make_key,
    set_nodelay,
    upstream_context,
)

logger = logging.getLogger("authsome.proxy")

_CONNECT_TARGET = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):([0-9]{1,5})")
_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
HANDSHAKE_TIMEOUT = 10.0
HEAD_TIMEOUT = 10.0
CLIENT_IDLE_TIMEOUT = 120.0
MAX_PER_CLIENT = 256
_SWEEP_EVERY = 1.0
_HEAD_TIMED_OUT = simple_response(
    408, "authsome proxy: the request head was too slow\n", close=True
)
_TOO_MANY = simple_response(
    503, "authsome proxy: too many open connections from this client\n", close=True
)


class ProxyServer:
    """The intercepting proxy, run on the caller's event loop."""

    def __init__(
        self,
        backend: ProxyBackend,
        ca: CertificateAuthority,
        *,
        upstream_ca: Path | None = None,
        head_timeout: float = HEAD_TIMEOUT,
        max_per_client: int = MAX_PER_CLIENT,
    ) -> None:
        self.backend = backend
        self.ca = ca
        self.pool = UpstreamPool(upstream_context(upstream_ca))
        self.debug = logger.isEnabledFor(logging.DEBUG)
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.head_timeout = head_timeout
        self.idle_timeout = CLIENT_IDLE_TIMEOUT
        self.max_per_client = max_per_client
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[ClientConnection] = set()
        self._open_by_client: Counter[str] = Counter()
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, host, port, backlog=1024)
        return self._bound()

    async def start_on(self, sock: socket.socket) -> int:
        """Listen on a socket the caller has bound already; returns its port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, sock=sock, backlog=1024)
        return self._bound()

    def _bound(self) -> int:
        assert self._server is not None
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._schedule_sweep()
        return self.port

    @property
    def open_connections(self) -> int:
        """Client connections currently open (an exchange is recorded before its own closes)."""
        return len(self._clients)

    def _schedule_sweep(self) -> None:
        shortest = min(
            self.handshake_timeout, self.head_timeout, self.idle_timeout, self.pool.idle_timeout
        )
        delay = min(_SWEEP_EVERY, shortest / 4)
        self._sweeper = asyncio.get_running_loop().call_later(delay, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for client in list(self._clients):
            client.check_timeouts(now)
        self.pool.sweep(now)
        self._schedule_sweep()

    def _accept(self) -> ClientConnection:
        return ClientConnection(self)

    async def close(self) -> None:
        """Stop listening, drop every client connection and the upstream pool."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.abort()
        self.pool.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class ClientConnection(asyncio.Protocol):
    """One connection from a client of the proxy."""

    def __init__(self, proxy: ProxyServer) -> None:
        self._proxy = proxy
        self._transport: asyncio.Transport | None = None
        self._tls: TlsEndpoint | None = None
        self._session: Session | None = None
        self._tunnel: RawTunnel | None = None
        self._tls_started = 0.0
        self._reading = True
        self._closed = False
        self._peer: str | None = None  # counted in the proxy's per-client numbers

    # ------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        if not self._admit(transport):
            return
        set_nodelay(transport)
        self._proxy._clients.add(self)
        self._session = Session(self, self._proxy, None, head_due=True)

    def _admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count this connection for its client address; refuse it past the cap."""
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        counts = self._proxy._open_by_client
        counts[self._peer] += 1
        limit = self._proxy.max_per_client
        if limit and counts[self._peer] > limit:
            self._closed = True
            self._transport = None  # nothing else may write to it
            cast(asyncio.Transport, transport).write(_TOO_MANY)
            transport.close()
            return False
        return True

    def data_received(self, data: bytes) -> None:
        tls = self._tls
        if tls is not None:
            try:
                data = tls.receive(data)
            except ssl.SSLError as exc:
                self._tls_failed(exc)
                return
            if self._session is not None:
                if data:
                    self._session.feed(data)
                if tls.eof:
                    self._session.client_eof()
        elif self._tunnel is not None:
            self._tunnel.from_client(data)
        elif self._session is not None:
            self._session.feed(data)

    def eof_received(self) -> bool:
        if self._tunnel is not None:
            self._tunnel.client_eof()
        elif self._session is not None:
            if self._tls is not None:
                try:
                    data = self._tls.receive_eof()
                except ssl.SSLError:
                    data = b""
                if data:
                    self._session.feed(data)
            if self._session is not None:
                self._session.client_eof()
        return True  # the response may still be on its way

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._peer is not None:
            counts = self._proxy._open_by_client
            counts[self._peer] -= 1
            if counts[self._peer] <= 0:
                del counts[self._peer]
            self._peer = None
        if self._session is not None:
            self._session.client_lost()
        if self._tunnel is not None:
            self._tunnel.close()
        self._proxy._clients.discard(self)

    def pause_writing(self) -> None:
        if self._session is not None:
            self._session.client_write_paused(True)
        elif self._tunnel is not None:
            self._tunnel.client_write_paused(True)

    def resume_writing(self) -> None:
        if self._session is not None:
            self._session.client_write_paused(False)
        elif self._tunnel is not None:
            self._tunnel.client_write_paused(False)

    def check_timeouts(self, now: float) -> None:
        """Called by the proxy's sweep: drop a stalled handshake or an idle connection."""
        proxy = self._proxy
        tls = self._tls
        if tls is not None and not tls.handshake_done:
            if now - self._tls_started > proxy.handshake_timeout:
                logger.info("a proxy client did not finish its TLS handshake in time")
                self._tls_failed(None)
            return
        session = self._session
        if session is None or session.idle_since is None:
            return  # a raw tunnel, or an exchange in progress
        if session.head_since is not None and now - session.head_since > proxy.head_timeout:
            logger.info("a proxy client was too slow to send a request head")
            session.client_lost()
            self._session = None
            self.write(_HEAD_TIMED_OUT)
            self.close()
        elif now - session.idle_since > proxy.idle_timeout:
            if proxy.debug:
                logger.debug("closing an idle client connection")
            session.client_lost()
            self._session = None
            self.close()

    # ---------------------------------------------------- used by the session

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        if self._tls is not None:
            try:
                self._tls.send(data)
            except ssl.SSLError:
                self.abort()  # the client's TLS session is gone
        else:
            assert self._transport is not None
            self._transport.write(data)

    def write_eof(self) -> None:
        if not self._closed and self._transport is not None and self._tls is None:
            self._transport.write_eof()

    def set_reading(self, on: bool) -> None:
        if on == self._reading or self._closed or self._transport is None:
            return
        self._reading = on
        if on:
            self._transport.resume_reading()
        else:
            self._transport.pause_reading()

    def close(self) -> None:
        if self._closed or self._transport is None:
            return
        self._closed = True
        if self._tls is not None:
            self._tls.close_notify()
        self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._closed = True
            self._transport.abort()

    def start_connect(self, req: RequestHead, rest: bytes) -> None:
        """Handle a CONNECT: authenticate, then intercept or tunnel."""
        self._session = None
        proxy = self._proxy
        run = authenticate(proxy.backend, req)
        if run is None:
            self.write(PROXY_AUTH_REQUIRED)
            self.close()
            return
        match = _CONNECT_TARGET.fullmatch(req.target)
        port = int(match.group(3)) if match else 0
        host = (match.group(1) or match.group(2)).lower().rstrip(".") if match else ""
        if not 0 < port < 65536 or not valid_host(host):
            self.write(simple_response(400, "authsome proxy: bad CONNECT target\n", close=True))
            self.close()
            return
        address = proxy.backend.upstream_address(host, port)
        if proxy.backend.should_intercept(run, host, port):
            assert self._transport is not None
            context = proxy.ca.server_context(host)
            self._transport.write(_ESTABLISHED)
            self._tls = TlsEndpoint(context, self._transport)
            self._tls_started = time.monotonic()
            key = make_key(True, host, port, address)
            self._session = Session(self, proxy, Target(run, host, port, key))
            if proxy.debug:
                logger.debug("intercepting %s:%d", host, port)
            # Bytes sent right after the CONNECT (often the ClientHello)
            # are the first input of the TLS handshake.
            if rest:
                self.data_received(rest)
        else:
            refusal = proxy.backend.unmatched_refusal(run, host, port)
            if refusal is not None:
                proxy.backend.record_request(
                    run,
                    method="CONNECT",
                    host=host,
                    path="",
                    status=403,
                    injection=None,
                    outcome="denied",
                    reason=refusal,
                    duration_ms=0.0,
                )
                self.write(simple_response(403, refusal + "\n", close=True))
                self.close()
                return
            if proxy.debug:
                logger.debug("tunnelling %s:%d", host, port)
            self.set_reading(False)
            self._tunnel = RawTunnel(self, f"{host}:{port}")
            asyncio.get_running_loop().create_task(self._tunnel.open(address, rest))

    def _tls_failed(self, exc: ssl.SSLError | None) -> None:
        if exc is not None:  # usually a client that does not trust the Authsome CA
            logger.info("TLS with a proxy client failed: %s", exc.reason or exc)
        self._tls = None
        if self._session is not None:
            self._session.client_lost()
            self._session = None
        self.abort()


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or type(exc).__name__


class RawTunnel(asyncio.Protocol):
    """A CONNECT tunnel the proxy does not look into: bytes both ways."""

    def __init__(self, client: ClientConnection, label: str) -> None:
        self._client = client
        self._label = label
        self._transport: asyncio.Transport | None = None
        self._client_eof = False
        self._upstream_eof = False
        self._early = b""  # client bytes that arrive while connecting

    async def open(self, address: tuple[str, int], rest: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, address[0], address[1]), CONNECT_TIMEOUT
            )
        except (OSError, ValueError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else _reason(exc)
            self._client.write(
                simple_response(
                    502, f"authsome proxy: cannot reach {self._label}: {reason}\n", close=True
                )
            )
            self._client.close()
            return
        assert self._transport is not None
        if self._client.closed:
            self._transport.close()
            return
        self._client.write(_ESTABLISHED)
        if rest or self._early:
            self._transport.write(rest + self._early)
            self._early = b""
        if self._client_eof and self._transport.can_write_eof():
            self._transport.write_eof()
        self._client.set_reading(True)

    # upstream side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        set_nodelay(transport)

    def data_received(self, data: bytes) -> None:
        self._client.write(data)

    def eof_received(self) -> bool:
        self._upstream_eof = True
        self._client.write_eof()
        if self._client_eof:
            self.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.close()

    def pause_writing(self) -> None:
        self._client.set_reading(False)

    def resume_writing(self) -> None:
        self._client.set_reading(True)

    # client side
    def from_client(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)
        else:
            self._early += data

    def client_eof(self) -> None:
        self._client_eof = True
        if self._transport is not None and self._transport.can_write_eof():
            self._transport.write_eof()
        if self._upstream_eof:
            self.close()

    def client_write_paused(self, paused: bool) -> None:
        if self._transport is not None:
            if paused:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._client.close()

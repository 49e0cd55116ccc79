"""Connections from the proxy to upstream servers, and the keep-alive pool.

A pooled connection is handed out without awaiting anything; only a miss
opens a new one. Pool keys include the address the connection really goes
to, so a ``--proxy-resolve`` override never mixes connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol, cast

import certifi

CONNECT_TIMEOUT = 30.0
IDLE_TIMEOUT = 30.0
MAX_IDLE_PER_KEY = 32


class PoolKey(NamedTuple):
    """Which upstream a connection talks to, and through which address."""

    tls: bool
    host: str
    port: int
    address: str
    address_port: int

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def make_key(tls: bool, host: str, port: int, address: tuple[str, int]) -> PoolKey:
    return PoolKey(tls, host, port, address[0], address[1])


class UpstreamError(Exception):
    """The upstream could not be reached; the message names the host and the reason."""


class UpstreamOwner(Protocol):
    """What an upstream connection reports to the exchange that uses it."""

    def upstream_data(self, data: bytes) -> None: ...

    def upstream_lost(self) -> None: ...

    def upstream_write_paused(self, paused: bool) -> None: ...


def upstream_context(extra_ca: Path | None) -> ssl.SSLContext:
    """Client TLS context: the system roots (certifi if there are none) plus ``extra_ca``."""
    context = ssl.create_default_context()
    # Counted, not listed: get_ca_certs() would decode every root into a dict.
    if not context.cert_store_stats()["x509_ca"]:
        context.load_verify_locations(cafile=certifi.where())
    if extra_ca is not None:
        context.load_verify_locations(cafile=str(extra_ca))
    context.set_alpn_protocols(["http/1.1"])
    return context


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream, used by one exchange at a time."""

    __slots__ = (
        "_on_idle_lost",
        "closed",
        "idle_since",
        "key",
        "owner",
        "reading_paused",
        "reused",
        "transport",
    )

    def __init__(self, key: PoolKey, on_idle_lost: Callable[[UpstreamConnection], None]) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.owner: UpstreamOwner | None = None
        self.reused = False
        self.closed = False
        self.reading_paused = False
        self.idle_since = 0.0
        self._on_idle_lost = on_idle_lost

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        set_nodelay(transport)

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        if owner is not None:
            owner.upstream_data(data)
        else:
            # Bytes on an idle connection: it is out of step; never reuse it.
            self.close()

    def eof_received(self) -> bool | None:
        self._lost()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost()

    def pause_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_write_paused(True)

    def resume_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_write_paused(False)

    # used by the exchange
    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None and not self.closed:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        self.owner = None
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.owner = None
        if self.transport is not None:
            self.transport.abort()

    def _lost(self) -> None:
        if self.closed:
            return
        self.closed = True
        owner, self.owner = self.owner, None
        if owner is not None:
            owner.upstream_lost()
        else:
            self._on_idle_lost(self)
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Idle keep-alive connections per upstream, most recently used first."""

    def __init__(self, tls_context: ssl.SSLContext) -> None:
        self._tls_context = tls_context
        self.idle_timeout = IDLE_TIMEOUT
        self._idle: dict[PoolKey, list[UpstreamConnection]] = {}
        self._closing = False

    def acquire(self, key: PoolKey) -> UpstreamConnection | None:
        """An idle live connection for ``key``, or None."""
        idle = self._idle.get(key)
        if not idle:
            return None
        deadline = time.monotonic() - self.idle_timeout
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.idle_since > deadline:
                conn.reused = True
                return conn
            conn.close()
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """Keep a connection whose last exchange ended cleanly."""
        conn.owner = None
        if conn.closed or self._closing:
            conn.close()
            return
        conn.resume_reading()  # so a close by the server is noticed
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_KEY:
            idle.pop(0).close()
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def connect(self, key: PoolKey) -> UpstreamConnection:
        """Open a new connection, translating failures into ``UpstreamError``."""
        loop = asyncio.get_running_loop()
        tls, host, _, address, address_port = key
        label = key.label
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamConnection(key, self._forget),
                    address,
                    address_port,
                    ssl=self._tls_context if tls else None,
                    server_hostname=host if tls else None,
                    ssl_handshake_timeout=CONNECT_TIMEOUT if tls else None,
                ),
                CONNECT_TIMEOUT,
            )
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason or "certificate rejected"
            raise UpstreamError(f"TLS verification of {label} failed: {reason}") from exc
        except ssl.SSLError as exc:
            raise UpstreamError(f"TLS handshake with {label} failed: {exc.reason}") from exc
        except TimeoutError as exc:
            raise UpstreamError(f"timed out connecting to {label}") from exc
        except (OSError, ValueError) as exc:  # ValueError: a name IDNA cannot encode
            reason = (exc.strerror if isinstance(exc, OSError) else None) or type(exc).__name__
            raise UpstreamError(f"cannot reach {label}: {reason}") from exc
        return conn

    def sweep(self, now: float) -> None:
        """Close connections idle for longer than ``idle_timeout``."""
        deadline = now - self.idle_timeout
        for key, idle in list(self._idle.items()):
            keep = [conn for conn in idle if conn.idle_since > deadline and not conn.closed]
            for conn in idle:
                if conn not in keep:
                    conn.close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def _forget(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        self._closing = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

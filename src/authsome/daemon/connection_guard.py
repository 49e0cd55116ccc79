"""Per-connection limits for the API listener, below ASGI: slow and greedy clients.

uvicorn times out idle keep-alive connections, but not a client that opens
a connection and sends nothing, sends its request head a byte at a time, or
stalls half-way through a body, and its ``limit_concurrency`` is one global
number. ``guarded_protocol`` returns uvicorn's h11 protocol with:

- a head deadline: a request head must be complete ``header_timeout``
  seconds after the connection opens or its first byte arrives (absolute,
  so trickling bytes does not extend it);
- a body idle timeout: a body that stops arriving for ``body_timeout``
  seconds ends the connection;
- a per-client cap: more than ``max_per_client`` open connections from one
  address are answered ``503`` and closed at once (0 disables the cap).

Timeouts answer ``408`` when no response has started. The limits apply per
listener process; ``/health`` keeps answering everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def _raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_TIMEOUT = _raw_response(408, "Request Timeout", "request_timeout", "the request was too slow")
_TOO_MANY = _raw_response(
    503, "Service Unavailable", "too_many_connections", "too many open connections from this client"
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the limits above (set by ``guarded_protocol``)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_per_client: int = 64
    open_by_client: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._peer = ""
        self._phase_timer: asyncio.TimerHandle | None = None
        self._phase: str | None = None  # "head" or "body": what the timer waits for
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer = self.client[0] if self.client else ""
        counts = type(self).open_by_client
        counts[self._peer] += 1
        if self.max_per_client and counts[self._peer] > self.max_per_client:
            self._refused = True
            transport.write(_TOO_MANY)
            transport.close()
            return
        self._watch("head", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        counts = type(self).open_by_client
        counts[self._peer] -= 1
        if counts[self._peer] <= 0:
            del counts[self._peer]
        self._stop_watch()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        self._follow_state()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_state()

    def _follow_state(self) -> None:
        """Arm the timer for what the connection now waits for from the client."""
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.trailing_data[0]:
            if self._phase != "head":  # a new head has started: its deadline is absolute
                self._watch("head", self.header_timeout)
        elif state is h11.SEND_BODY:
            self._watch("body", self.body_timeout)  # idle timeout: re-armed on progress
        elif state is not h11.IDLE or self._phase == "body":
            self._stop_watch()

    def _watch(self, phase: str, seconds: float) -> None:
        self._stop_watch()
        self._phase = phase
        self._phase_timer = self.loop.call_later(seconds, self._expired)

    def _stop_watch(self) -> None:
        if self._phase_timer is not None:
            self._phase_timer.cancel()
        self._phase_timer = None
        self._phase = None

    def _expired(self) -> None:
        self._phase_timer = None
        if self.transport.is_closing():
            return
        responding = self.cycle is not None and self.cycle.response_started
        if not responding:
            self.transport.write(_TIMEOUT)
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()


def guarded_protocol(
    *, header_timeout: float, body_timeout: float, max_per_client: int
) -> type[GuardedH11Protocol]:
    """A protocol class with these limits and its own per-client counts."""
    return type(
        "ConfiguredH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_per_client": max_per_client,
            "open_by_client": Counter(),
        },
    )

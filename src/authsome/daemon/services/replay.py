"""The PoP replay cache: each ``jti`` is accepted once inside the iat window."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from authsome.errors import PopReplayed


class MemoryReplayCache:
    """Process-local cache for the embedded store (one daemon per home).

    Entries live for twice the iat window, which covers a proof whose ``iat``
    is at either edge of the window. Team mode replaces this with a table.
    """

    def __init__(self, ttl_seconds: float = 120.0, max_entries: int = 1_000_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_remember(self, jti: str, *, now: float | None = None) -> None:
        """Remember ``jti``; raise ``PopReplayed`` if it was seen before."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            self._prune(moment)
            if jti in self._seen:
                raise PopReplayed("this proof was already used; sign a new one per request")
            if len(self._seen) >= self._max:
                # Refusing is safer than forgetting: a forgotten jti could replay.
                raise PopReplayed("too many proofs in flight; retry shortly")
            self._seen[jti] = moment + self._ttl

    def _prune(self, now: float) -> None:
        while self._seen:
            jti, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[jti]

"""The PoP replay cache: each ``jti`` is accepted once inside the iat window.

Two implementations of one contract (``check_and_remember``):

- ``MemoryReplayCache`` for the embedded SQLite store, where one daemon
  serves one home. Measured against the table on SQLite it is far cheaper
  (see docs/team-mode.md, "Shared state"), and no other process could
  consult a table anyway.
- ``DatabaseReplayCache`` for PostgreSQL, where several replicas share one
  database: the ``pop_replay`` primary key makes the insert the check, so a
  proof used on replica A is refused on replica B.

``blocking`` tells the async request path whether the check does database
I/O (and so must run in a worker thread).
"""

from __future__ import annotations

import hashlib
import importlib
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from authsome.errors import PopReplayed
from authsome.store.db import transaction
from authsome.store.models import PopReplay

#: Twice the iat window: covers a proof whose ``iat`` is at either edge of it.
REPLAY_TTL_SECONDS = 120.0
#: How often a replica deletes expired rows (any replica may; deletes are idempotent).
PRUNE_EVERY_SECONDS = 30.0

_REPLAYED = "this proof was already used; sign a new one per request"


class ReplayCache(Protocol):
    blocking: bool

    def check_and_remember(self, jti: str, *, now: float | None = None) -> None:
        """Remember ``jti``; raise ``PopReplayed`` if it was seen before."""


class MemoryReplayCache:
    """Process-local cache for the embedded store (one daemon per home)."""

    blocking = False

    def __init__(
        self, ttl_seconds: float = REPLAY_TTL_SECONDS, max_entries: int = 1_000_000
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_remember(self, jti: str, *, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            self._prune(moment)
            if jti in self._seen:
                raise PopReplayed(_REPLAYED)
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


class DatabaseReplayCache:
    """The ``pop_replay`` table: insert-or-fail on the ``jti``'s SHA-256."""

    blocking = True

    def __init__(
        self,
        sessions: sessionmaker[Session],
        dialect: str,
        ttl_seconds: float = REPLAY_TTL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl_seconds)
        # Only the store's own dialect is imported: PostgreSQL's costs ~2 MiB on SQLite.
        self._insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        self._next_prune = 0.0
        self._prune_lock = threading.Lock()

    def check_and_remember(self, jti: str, *, now: float | None = None) -> None:
        moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
        digest = hashlib.sha256(jti.encode()).hexdigest()
        statement = (
            self._insert(PopReplay)
            .values(jti_hash=digest, expires_at=moment + self._ttl)
            .on_conflict_do_nothing(index_elements=["jti_hash"])
            .returning(PopReplay.jti_hash)
        )
        # RETURNING says whether this insert made the row: an ORM statement's
        # rowcount is not reliable across drivers.
        with transaction(self._sessions) as db:
            inserted = db.execute(statement).first()
        if inserted is None:
            raise PopReplayed(_REPLAYED)
        self._maybe_prune(moment)

    def _maybe_prune(self, moment: datetime) -> None:
        clock = time.monotonic()
        if clock < self._next_prune or not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._next_prune = clock + PRUNE_EVERY_SECONDS
            with transaction(self._sessions) as db:
                db.execute(delete(PopReplay).where(PopReplay.expires_at < moment))
        finally:
            self._prune_lock.release()


def replay_cache_for(engine: Engine, sessions: sessionmaker[Session]) -> ReplayCache:
    """The table when replicas may share the database, memory for embedded SQLite."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return MemoryReplayCache()
    return DatabaseReplayCache(sessions, dialect)

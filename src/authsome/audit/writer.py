"""Writing audit events (DESIGN §6).

``record_event`` adds an event to the caller's transaction, so an action and
its event commit or roll back together. ``AuditBatcher`` collects the proxy's
per-request events and writes them in batches off the hot path; what it
cannot keep it counts and writes as an ``audit_dropped`` event, so loss is
never silent.

The hash chain (``prev_hash``/``hash``) is filled by a later layer; the
columns exist already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from authsome.store.models import AuditEvent

log = logging.getLogger("authsome.audit")

EVENT_FIELDS = frozenset(
    {
        "event",
        "outcome",
        "identity",
        "principal_id",
        "provider",
        "connection",
        "method",
        "host",
        "path",
        "status",
        "detail",
        "ts",
    }
)
OUTCOMES = frozenset({"success", "failure", "denied"})


def _event_row(fields: dict[str, Any]) -> AuditEvent:
    unknown = set(fields) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"unknown audit fields: {sorted(unknown)}")
    if fields.get("outcome") not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}")
    fields.setdefault("ts", datetime.now(UTC))
    fields.setdefault("detail", {})
    return AuditEvent(**fields)


def record_event(session: Session, event: str, outcome: str, **fields: Any) -> None:
    """Add one event to ``session``'s transaction (committed with the change)."""
    session.add(_event_row({"event": event, "outcome": outcome, **fields}))


class AuditBatcher:
    """A bounded queue of events flushed every ``interval`` or ``batch_size``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float = 0.25,
        batch_size: int = 100,
        capacity: int = 100_000,
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._batch_size = batch_size
        self._capacity = capacity
        self._pending: deque[dict[str, Any]] = deque()
        self._dropped = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, event: str, outcome: str, **fields: Any) -> None:
        """Queue one event; never blocks, never raises on a full queue."""
        if len(self._pending) >= self._capacity:
            self._dropped += 1
            return
        self._pending.append(
            {"event": event, "outcome": outcome, "ts": datetime.now(UTC), **fields}
        )
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the flusher and write everything still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self._flush)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            if self._pending or self._dropped:
                try:
                    await asyncio.to_thread(self._flush)
                except Exception:
                    log.exception("writing audit events failed; they stay queued")

    def _flush(self) -> None:
        batch: list[dict[str, Any]] = []
        while self._pending and len(batch) < 10_000:
            batch.append(self._pending.popleft())
        dropped, self._dropped = self._dropped, 0
        if dropped:
            batch.append(
                {"event": "audit_dropped", "outcome": "failure", "detail": {"count": dropped}}
            )
        if not batch:
            return
        try:
            with self._sessions() as session, session.begin():
                session.add_all([_event_row(dict(item)) for item in batch])
        except Exception:
            self._pending.extendleft(reversed([b for b in batch if b["event"] != "audit_dropped"]))
            self._dropped += dropped
            raise

"""Writing audit events (DESIGN §6).

``record_event`` appends an event to the caller's transaction, so an action
and its event commit or roll back together. ``AuditBatcher`` collects the
proxy's and ``/resolve``'s per-request events and writes them in batches off
the hot path; what it cannot keep it counts and writes as an
``audit_dropped`` event, so loss is never silent. Both go through
``chain.append_events``, which links every event into the hash chain.

Fail closed: the proxy and ``/resolve`` release a credential only when the
batcher can vouch that events are being written: a write succeeded within
the last flush interval, or one succeeds now (``AuditBatcher.confirm``).
After a failed write (or while the queue is full) every credential is
withheld until a later write succeeds. Events written with ``record_event``
need no such gate: when they cannot be written, the action's own
transaction fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.cadence import DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL
from authsome.audit.chain import append_events, probe_append
from authsome.background import stop_task

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
DROPPED_EVENT = "audit_dropped"
#: Why a credential is refused while events cannot be written (no secret in it).
UNAVAILABLE_MESSAGE = (
    "the audit log cannot be written now, so credentials are withheld (see `authsome daemon logs`)"
)
#: Most events per transaction: a backlog (after an outage, or a burst faster
#: than the flusher) is written in a few large transactions, not many small ones.
_FLUSH_CHUNK = 10_000


def checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` after checking names and outcome; ``ts`` defaults to now."""
    unknown = set(fields) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"unknown audit fields: {sorted(unknown)}")
    if fields.get("outcome") not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}")
    if not fields.get("event"):
        raise ValueError("an audit event needs a name")
    fields.setdefault("ts", datetime.now(UTC))
    return fields


def record_event(session: Session, event: str, outcome: str, **fields: Any) -> None:
    """Append one event to ``session``'s transaction (committed with the change)."""
    append_events(session, [checked_fields({"event": event, "outcome": outcome, **fields})])


class AuditBatcher:
    """A bounded queue of events flushed every ``interval`` seconds, or as soon
    as ``batch_size`` are queued; each flush writes everything queued then.

    ``add`` may be called from the event loop or from worker threads.

    Before a credential is used, ``confirmed`` (cheap) or else ``confirm`` /
    ``confirm_blocking`` (one write, then cheap again) must say that events
    can be written: a write committed less than ``confirm_window`` seconds
    ago (by default the flush interval, which a steady flow of events renews
    for free) and none has failed since. After an idle spell the first
    credential waits for one write: the queue's events, or a probe that
    leaves nothing behind (``chain.probe_append``) when the queue is empty.
    So a store that broke while nothing was written refuses the very next
    credential, and one that breaks mid-flow within ``confirm_window``.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float = DEFAULT_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        capacity: int = 100_000,
        confirm_window: float | None = None,
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._batch_size = batch_size
        self._capacity = capacity
        self._confirm_window = interval if confirm_window is None else confirm_window
        self._pending: deque[dict[str, Any]] = deque()
        self._dropped = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_flush_ok = True
        #: ``time.monotonic()`` until which the last successful write vouches for the store.
        self._confirmed_until = 0.0
        self._confirming: asyncio.Future[bool] | None = None
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        """False when events cannot be written now: credentials must be withheld."""
        return self._last_flush_ok and len(self._pending) < self._capacity

    @property
    def confirmed(self) -> bool:
        """Healthy, and a write succeeded within the confirm window (no I/O)."""
        return (
            self._last_flush_ok
            and time.monotonic() < self._confirmed_until
            and len(self._pending) < self._capacity
        )

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def interval(self) -> float:
        """Longest time (seconds) an event waits in the queue while writes work."""
        return self._interval

    @property
    def batch_size(self) -> int:
        """Queued events that wake the flusher before its interval is over."""
        return self._batch_size

    def add(self, event: str, outcome: str, **fields: Any) -> None:
        """Queue one event; never blocks, never raises on a full queue."""
        item = checked_fields({"event": event, "outcome": outcome, **fields})
        with self._lock:
            if len(self._pending) >= self._capacity:
                self._dropped += 1
                return
            self._pending.append(item)
            full = len(self._pending) == self._batch_size  # wake once, not per event
        if full and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def confirm_blocking(self) -> bool:
        """Whether events can be written, writing once if ``confirmed`` cannot say
        (any thread; callers arriving during that write share its answer)."""
        if self.confirmed:
            return True
        with self._flush_lock:
            if not self.confirmed:
                try:
                    self._write_queued(probe=True)
                except Exception as exc:
                    self._report_failure(exc)
        return self.confirmed

    async def confirm(self) -> bool:
        """``confirm_blocking`` for the event loop: one write in a worker thread,
        shared by every request that waits meanwhile."""
        if self.confirmed:
            return True
        if self._confirming is None:
            future = asyncio.ensure_future(asyncio.to_thread(self.confirm_blocking))
            future.add_done_callback(self._confirm_done)
            self._confirming = future
        return await asyncio.shield(self._confirming)

    def _confirm_done(self, _future: asyncio.Future[bool]) -> None:
        self._confirming = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def close(self) -> None:
        """Stop the flusher and write everything still queued."""
        await stop_task(self._task)
        self._task = None
        try:
            await asyncio.to_thread(self.flush)
        except Exception as exc:
            log.error(
                "could not write %d queued audit events at shutdown (%s); they are lost",
                len(self._pending) + self._dropped,
                type(exc).__name__,
            )

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            # While writes fail, probe even with nothing queued: the first
            # success reopens the gate, as ``/ready`` then shows.
            if self._pending or self._dropped or not self._last_flush_ok:
                try:
                    await asyncio.to_thread(self._flush_backlog)
                except Exception as exc:
                    self._report_failure(exc)

    def _report_failure(self, exc: Exception) -> None:
        log.error(
            "writing audit events failed (%s); %d stay queued and credentials "
            "are withheld until a write succeeds",
            type(exc).__name__,
            len(self._pending),
        )

    def flush(self, *, probe: bool = False) -> None:
        """Write everything queued, until the queue is empty, one transaction per
        chunk (any thread); with ``probe``, an empty queue is checked with a probe
        write instead."""
        with self._flush_lock:
            self._write_queued(probe=probe)
            while self._pending or self._dropped:
                self._write_queued(probe=False)

    def _flush_backlog(self) -> None:
        """The flusher's write: what is queued when it starts (or a probe).

        Events that arrive while it writes wait for the next flush (the interval
        or a full batch) instead of each costing a transaction of its own: under
        steady proxy traffic, chasing them turned three flushes in four into
        transactions of a handful of events, at about 0.4 ms each.
        """
        with self._flush_lock:
            self._write_queued(probe=True)

    def _write_queued(self, *, probe: bool) -> None:
        """Write the events queued now, in chunks; with ``probe``, a probe when none are."""
        if probe and not (self._pending or self._dropped):
            self._write(probe_append)
            return
        backlog = len(self._pending)
        while backlog or self._dropped:
            backlog -= self._flush_chunk(min(backlog, _FLUSH_CHUNK))

    def _flush_chunk(self, count: int) -> int:
        """Write the oldest ``count`` events and the dropped count; returns how many events."""
        with self._lock:
            events = [self._pending.popleft() for _ in range(count)]
            dropped, self._dropped = self._dropped, 0
        batch = list(events)
        if dropped:
            batch.append(
                checked_fields(
                    {"event": DROPPED_EVENT, "outcome": "failure", "detail": {"count": dropped}}
                )
            )
        try:
            self._write(lambda session: append_events(session, batch))
        except Exception:
            with self._lock:
                self._pending.extendleft(reversed(events))
                self._dropped += dropped
            raise
        return len(events)

    def _write(self, work: Callable[[Session], None]) -> None:
        """One transaction; its outcome opens or closes the gate at once."""
        try:
            with self._sessions() as session, session.begin():
                work(session)
        except Exception:
            self._last_flush_ok = False
            self._confirmed_until = 0.0
            raise
        self._last_flush_ok = True
        self._confirmed_until = time.monotonic() + self._confirm_window

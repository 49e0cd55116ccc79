"""The proxy's batching as issue 6 states it: flush every 250 ms or at 100 events."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import AuditBatcher
from authsome.store.models import AuditEvent


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_the_defaults_are_250_ms_and_100_events(sessions: sessionmaker[Session]) -> None:
    batcher = AuditBatcher(sessions)
    assert (batcher.interval, batcher.batch_size) == (0.25, 100)


def test_the_hundredth_queued_event_wakes_the_flusher(sessions: sessionmaker[Session]) -> None:
    """With the default batch size and a timer too long to matter: 99 events
    wait, the 100th starts a flush that writes them all."""

    async def scenario() -> tuple[int, int]:
        batcher = AuditBatcher(sessions, interval=60)
        batcher.start()
        await asyncio.sleep(0)
        for number in range(99):
            batcher.add("proxy_request", "success", status=number)
        await asyncio.sleep(0.5)
        before = _count(sessions)
        batcher.add("proxy_request", "success", status=99)
        for _ in range(200):
            if _count(sessions) == 100:
                break
            await asyncio.sleep(0.02)
        after = _count(sessions)
        await batcher.close()
        return before, after

    assert asyncio.run(scenario()) == (0, 100)


def test_a_large_backlog_is_written_in_few_transactions(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """A backlog far above the batch size is not cut into batches of 100."""
    batcher = AuditBatcher(sessions)
    for number in range(25_000):
        batcher.add("proxy_request", "success", status=number % 600)
    commits: list[int] = []

    def count_commit(_connection: object) -> None:
        commits.append(1)

    event.listen(engine, "commit", count_commit)
    try:
        batcher.flush()
    finally:
        event.remove(engine, "commit", count_commit)
    assert _count(sessions) == 25_000
    assert len(commits) == 3  # chunks of 10,000 events


def test_events_arriving_during_a_flush_wait_for_the_next_one(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """The flusher writes what was queued when it started: events that come in
    while it writes wait for the next flush (a full batch or the interval), so
    steady traffic costs one transaction per batch, not a string of tiny ones."""
    commits: list[int] = []
    batcher = AuditBatcher(sessions, interval=60)

    def arrivals_during_the_write(_connection: object) -> None:
        if not commits:  # the first transaction is writing: three requests finish meanwhile
            for number in range(3):
                batcher.add("proxy_request", "success", status=500 + number)
        commits.append(1)

    async def scenario() -> tuple[int, int, int]:
        batcher.start()
        await asyncio.sleep(0)
        for number in range(100):  # the 100th wakes the flusher
            batcher.add("proxy_request", "success", status=number)
        for _ in range(200):
            if commits:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # time enough for the flusher to chase the three
        seen = (len(commits), _count(sessions), batcher.pending)
        await batcher.close()  # writes everything left
        return seen

    event.listen(engine, "commit", arrivals_during_the_write)
    try:
        assert asyncio.run(scenario()) == (1, 100, 3)
    finally:
        event.remove(engine, "commit", arrivals_during_the_write)
    assert _count(sessions) == 103

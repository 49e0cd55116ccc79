"""The batcher's gate for credentials: a recent write vouches for the store,
otherwise one write (the queue, or a probe that leaves nothing) must succeed
first; a failed write closes the gate at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import verify_chain
from authsome.audit.writer import AuditBatcher
from authsome.errors import AuditUnavailable
from authsome.store.models import AuditEvent

REFUSE = (
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit writes refused'); END"
)
ALLOW = "DROP TRIGGER refuse_audit"


def _run(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


class _Commits:
    """Counts the transactions committed on ``engine`` while in use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, _connection: object) -> None:
        self.count += 1

    def __enter__(self) -> _Commits:
        event.listen(self.engine, "commit", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "commit", self._seen)


def test_a_recent_write_vouches_for_a_short_while(sessions: sessionmaker[Session]) -> None:
    batcher = AuditBatcher(sessions, confirm_window=0.3)
    assert batcher.healthy and not batcher.confirmed  # nothing written yet
    batcher.add("proxy_request", "success", status=200)
    batcher.flush()
    assert batcher.confirmed
    time.sleep(0.4)
    assert batcher.healthy and not batcher.confirmed


def test_an_idle_store_is_probed_without_leaving_a_trace(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    batcher = AuditBatcher(sessions, confirm_window=60)
    batcher.add("proxy_request", "success", status=200)
    batcher.flush()
    batcher = AuditBatcher(sessions, confirm_window=60)  # as after an idle spell
    with _Commits(engine) as commits:
        assert batcher.confirm_blocking()
        assert batcher.confirm_blocking()  # vouched for now: no second write
    assert commits.count == 1
    assert _count(sessions) == 1
    batcher.add("credential_resolved", "success")
    batcher.flush()
    with sessions() as db:
        report = verify_chain(db)
        ids = list(db.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    assert report.intact and ids == [1, 2]  # the probe's row took no id


def test_a_fault_during_an_idle_spell_refuses_the_first_credential(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    batcher = AuditBatcher(sessions, confirm_window=0.2)
    assert batcher.confirm_blocking()
    _run(engine, REFUSE)
    time.sleep(0.3)
    assert batcher.healthy  # nothing has tried to write since the fault
    assert not batcher.confirm_blocking()
    assert not batcher.healthy and not batcher.confirmed
    _run(engine, ALLOW)
    assert batcher.confirm_blocking()
    assert _count(sessions) == 0


def test_the_queue_is_written_instead_of_a_probe(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    batcher = AuditBatcher(sessions)
    batcher.add("proxy_request", "success", status=200)
    with _Commits(engine) as commits:
        assert batcher.confirm_blocking()
    assert commits.count == 1 and batcher.pending == 0 and _count(sessions) == 1


def test_a_failed_write_closes_the_gate_at_once(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    batcher = AuditBatcher(sessions, confirm_window=60)
    assert batcher.confirm_blocking()
    _run(engine, REFUSE)
    assert batcher.confirmed  # within the window: not asked again
    batcher.add("proxy_request", "success", status=200)
    with pytest.raises(AuditUnavailable):
        batcher.flush()
    assert not batcher.confirmed and not batcher.healthy


def test_requests_waiting_on_the_loop_share_one_write(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    async def scenario() -> list[bool]:
        batcher = AuditBatcher(sessions)
        return await asyncio.gather(*(batcher.confirm() for _ in range(50)))

    with _Commits(engine) as commits:
        answers = asyncio.run(scenario())
    assert answers == [True] * 50 and commits.count == 1


def test_the_flusher_probes_until_writes_work_again(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    async def scenario() -> tuple[bool, bool]:
        batcher = AuditBatcher(sessions, interval=0.05)
        batcher.start()
        _run(engine, REFUSE)
        assert not await batcher.confirm()  # closed, and nothing is queued
        _run(engine, ALLOW)
        for _ in range(100):
            if batcher.healthy:
                break
            await asyncio.sleep(0.02)
        reopened = batcher.healthy
        await batcher.close()
        return reopened, batcher.pending == 0

    assert asyncio.run(scenario()) == (True, True)
    assert _count(sessions) == 0

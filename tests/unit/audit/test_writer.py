"""The batcher: bounded queue, counted drops, fail-closed health, flush on close."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import verify_chain
from authsome.audit.writer import AuditBatcher, record_event
from authsome.errors import AuditUnavailable
from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction
from authsome.store.models import AuditEvent, Deployment

FAIL_TRIGGER = (
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit writes refused'); END"
)


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, str, dict[str, object]]]:
    with sessions() as db:
        rows = db.execute(
            select(AuditEvent.event, AuditEvent.outcome, AuditEvent.detail).order_by(AuditEvent.id)
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def test_overflow_is_counted_and_written_as_an_event(sessions: sessionmaker[Session]) -> None:
    batcher = AuditBatcher(sessions, capacity=5)
    for number in range(8):
        batcher.add("proxy_request", "success", status=number)
    assert not batcher.healthy  # a full queue withholds credentials too
    batcher.flush()
    events = _events(sessions)
    assert [e[0] for e in events] == ["proxy_request"] * 5 + ["audit_dropped"]
    assert events[-1][1:] == ("failure", {"count": 3})
    assert batcher.healthy
    with sessions() as db:
        assert verify_chain(db).intact


def test_a_failed_write_makes_the_batcher_unhealthy_until_one_succeeds(
    sessions: sessionmaker[Session], db_path: Path
) -> None:
    batcher = AuditBatcher(sessions)
    batcher.add("proxy_request", "success", status=200)
    batcher.flush()
    assert batcher.healthy
    with sqlite3.connect(db_path) as db:
        db.execute(FAIL_TRIGGER)
    batcher.add("credential_resolved", "success", provider="openai")
    with pytest.raises(AuditUnavailable) as refused:
        batcher.flush()
    assert "audit writes refused" in str(refused.value.__cause__)
    assert not batcher.healthy
    assert batcher.pending == 1  # kept for the next attempt
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TRIGGER refuse_audit")
    batcher.flush()
    assert batcher.healthy and batcher.pending == 0
    assert [e[0] for e in _events(sessions)] == ["proxy_request", "credential_resolved"]


def test_the_flusher_writes_on_its_interval_and_on_close(sessions: sessionmaker[Session]) -> None:
    async def scenario() -> tuple[int, int]:
        batcher = AuditBatcher(sessions, interval=0.05, batch_size=1000)
        batcher.start()
        batcher.add("proxy_request", "success", status=1)
        await asyncio.sleep(0.4)
        written_by_timer = len(_events(sessions))
        # Added from another thread, then closed before the next tick.
        thread = threading.Thread(target=batcher.add, args=("proxy_request", "denied"))
        thread.start()
        thread.join()
        await batcher.close()
        return written_by_timer, len(_events(sessions))

    assert asyncio.run(scenario()) == (1, 2)


def test_a_full_batch_wakes_the_flusher_early(sessions: sessionmaker[Session]) -> None:
    async def scenario() -> int:
        batcher = AuditBatcher(sessions, interval=30, batch_size=10)
        batcher.start()
        await asyncio.sleep(0)
        for number in range(10):
            await asyncio.to_thread(batcher.add, "proxy_request", "success", status=number)
        for _ in range(100):
            if len(_events(sessions)) == 10:
                break
            await asyncio.sleep(0.02)
        written = len(_events(sessions))
        await batcher.close()
        return written

    assert asyncio.run(scenario()) == 10


def test_migration_links_events_written_before_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_store_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(resources.files("authsome.store") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with sqlite3.connect(path) as db:
        for number in range(3):
            db.execute(
                "INSERT INTO audit_events (ts, event, outcome, detail) VALUES (?, ?, ?, ?)",
                (f"2026-12-0{number + 1} 10:00:00.000000", "login", "success", '{"n": 1}'),
            )
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as db:
        report = verify_chain(db)
    assert report.intact and report.checked == 3
    engine.dispose()


def test_a_change_whose_event_cannot_be_written_is_refused(
    sessions: sessionmaker[Session], db_path: Path
) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(FAIL_TRIGGER)
    refused = pytest.raises(AuditUnavailable, match="audit log cannot be written")
    with refused, transaction(sessions) as session:
        session.add(Deployment(id=1, deployment_id="d1", key_check=b"x"))
        record_event(session, "daemon_started", "success")
    with sessions() as session:
        assert session.get(Deployment, 1) is None  # rolled back with its event

"""Retention deletes a prefix of the chain and leaves it verifiable."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import CHECKPOINT_EVENT, verify_chain
from authsome.audit.retention import prune_chunk, prune_older_than
from authsome.audit.writer import record_event
from authsome.store.db import transaction
from authsome.store.models import AuditEvent

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _seed(sessions: sessionmaker[Session], days: int, *, start: int = 0) -> None:
    with transaction(sessions) as db:
        for day in range(start, days):
            record_event(
                db, "login", "success", provider="openai", ts=NOW - timedelta(days=days - day)
            )


def _rows(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions() as db:
        query = select(AuditEvent.id, AuditEvent.event).order_by(AuditEvent.id)
        return [(row[0], row[1]) for row in db.execute(query)]


def _intact(sessions: sessionmaker[Session]) -> bool:
    with sessions() as db:
        return verify_chain(db).intact


def test_old_events_go_and_a_checkpoint_keeps_the_chain_verifiable(
    sessions: sessionmaker[Session],
) -> None:
    _seed(sessions, 30)  # ids 1..30, 30 days ago .. 1 day ago
    assert prune_older_than(sessions, 10, now=NOW) == 20
    rows = _rows(sessions)
    assert rows[0] == (21, "login") and rows[-1] == (31, CHECKPOINT_EVENT)
    with sessions() as db:
        checkpoint = db.get(AuditEvent, 31)
        first = db.get(AuditEvent, 21)
    assert checkpoint is not None and first is not None
    assert checkpoint.detail["first_kept_id"] == 21
    assert checkpoint.detail["starts_from"] == first.prev_hash
    assert checkpoint.detail["deleted"] == 20
    assert _intact(sessions)
    # Nothing more to prune: no second checkpoint.
    assert prune_older_than(sessions, 10, now=NOW) == 0
    assert len(_rows(sessions)) == 11
    # And the chain goes on from the checkpoint.
    with transaction(sessions) as db:
        record_event(db, "logout", "success")
    assert _intact(sessions)


def test_chunks_each_leave_a_checkpoint(sessions: sessionmaker[Session]) -> None:
    _seed(sessions, 25)
    before = NOW - timedelta(days=5)
    deleted = []
    while True:
        with transaction(sessions) as db:
            result = prune_chunk(db, before=before, chunk=7)
        deleted.append(result.deleted)
        assert _intact(sessions)
        if result.complete:
            break
    assert deleted == [7, 7, 6]
    events = [event for _, event in _rows(sessions)]
    assert events.count(CHECKPOINT_EVENT) == 3 and events.count("login") == 5


def test_pruning_everything_leaves_only_the_checkpoint(sessions: sessionmaker[Session]) -> None:
    _seed(sessions, 5)
    assert prune_older_than(sessions, 1, now=NOW + timedelta(days=30)) == 5
    assert _rows(sessions) == [(6, CHECKPOINT_EVENT)]
    assert _intact(sessions)
    with transaction(sessions) as db:
        record_event(db, "login", "success")
    assert _rows(sessions)[-1] == (7, "login") and _intact(sessions)


def test_deleting_more_than_retention_did_is_still_caught(
    sessions: sessionmaker[Session], db_path: Path
) -> None:
    _seed(sessions, 30)
    prune_older_than(sessions, 10, now=NOW)
    with sqlite3.connect(db_path) as db:
        db.execute("DELETE FROM audit_events WHERE id = 21")
    with sessions() as db:
        report = verify_chain(db)
    assert not report.intact and report.broken_id == 22
    assert report.reason is not None and "older events were deleted" in report.reason


def test_empty_table_prunes_nothing(sessions: sessionmaker[Session]) -> None:
    assert prune_older_than(sessions, 1, now=NOW) == 0
    assert _rows(sessions) == []

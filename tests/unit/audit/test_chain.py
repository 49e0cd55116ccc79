"""The hash chain: exact canonical form, serialised appends, tamper detection."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import GENESIS, ChainReport, canonical_json, link_hash, verify_chain
from authsome.audit.writer import AuditBatcher, record_event
from authsome.store.db import transaction
from authsome.store.models import AuditEvent

T0 = datetime(2026, 12, 1, 8, 30, 5, 123000, tzinfo=UTC)


def _seed(sessions: sessionmaker[Session], count: int) -> None:
    with transaction(sessions) as db:
        for number in range(count):
            record_event(
                db,
                "proxy_request",
                "success" if number % 3 else "denied",
                identity=f"agent-{number % 4}",
                provider="openai",
                method="GET",
                host="api.openai.com",
                path=f"/v1/things/{number}",
                status=200,
                detail={"duration_ms": 1.25 * number, "run": "r1"},
                ts=T0 + timedelta(seconds=number),
            )


def _verify(sessions: sessionmaker[Session]) -> ChainReport:
    with sessions() as db:
        return verify_chain(db)


def test_canonical_form_is_pinned() -> None:
    values = {
        "id": 7,
        "ts": datetime(2026, 12, 1, 9, 30, 5, 123000, tzinfo=UTC),
        "event": "login",
        "outcome": "success",
        "identity": "brisk-amber-otter",
        "principal_id": "p1",
        "provider": "acme",
        "connection": "default",
        "detail": {"z": 1, "a": "é", "f": 0.5},
    }
    expected = (
        '{"connection":"default","detail":{"a":"\\u00e9","f":0.5,"z":1},"event":"login",'
        '"host":null,"id":7,"identity":"brisk-amber-otter","method":null,"outcome":"success",'
        '"path":null,"principal_id":"p1","provider":"acme","status":null,'
        '"ts":"2026-12-01T09:30:05.123000Z"}'
    )
    assert canonical_json(values) == expected.encode()
    assert (
        link_hash(GENESIS, values)
        == hashlib.sha256(GENESIS.encode() + expected.encode()).hexdigest()
    )


def test_timestamps_are_written_in_utc() -> None:
    plus_two = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert b'"ts":"2026-12-01T10:00:00.000000Z"' in canonical_json({"ts": plus_two})


def test_appends_link_every_event(sessions: sessionmaker[Session]) -> None:
    _seed(sessions, 20)
    with sessions() as db:
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [row.id for row in rows] == list(range(1, 21))
    assert rows[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    report = _verify(sessions)
    assert report.intact and report.checked == 20
    assert report.head_id == 20 and report.head_hash == rows[-1].hash


def test_empty_table_verifies(sessions: sessionmaker[Session]) -> None:
    report = _verify(sessions)
    assert report.intact and report.checked == 0 and report.head_id is None


def _tamper(db_path: Path, *statements: str) -> None:
    with sqlite3.connect(db_path) as db:
        for statement in statements:
            db.execute(statement)


@pytest.mark.parametrize(
    ("statements", "broken", "word"),
    [
        (["UPDATE audit_events SET outcome = 'success' WHERE id = 4"], 4, "edited"),
        (["UPDATE audit_events SET path = '/v1/other' WHERE id = 1"], 1, "edited"),
        (["UPDATE audit_events SET ts = '2026-12-01 08:30:06.000001' WHERE id = 2"], 2, "edited"),
        (['UPDATE audit_events SET detail = \'{"run": "r2"}\' WHERE id = 9'], 9, "edited"),
        (["UPDATE audit_events SET hash = prev_hash WHERE id = 20"], 20, "edited"),
        (["DELETE FROM audit_events WHERE id = 11"], 12, "deleted"),
        (["DELETE FROM audit_events WHERE id IN (1, 2)"], 3, "deleted"),
        # Swap two whole events (every column but id) ...
        (
            [
                "CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE id IN (4, 5)",
                "UPDATE t SET id = 9 - id",
                "DELETE FROM audit_events WHERE id IN (4, 5)",
                "INSERT INTO audit_events SELECT * FROM t",
            ],
            4,
            "moved",
        ),
        # ... or just their ids.
        (
            [
                "UPDATE audit_events SET id = 1000 WHERE id = 14",
                "UPDATE audit_events SET id = 14 WHERE id = 15",
                "UPDATE audit_events SET id = 15 WHERE id = 1000",
            ],
            14,
            "moved",
        ),
    ],
)
def test_verification_names_the_first_broken_link(
    sessions: sessionmaker[Session], db_path: Path, statements: list[str], broken: int, word: str
) -> None:
    _seed(sessions, 20)
    assert _verify(sessions).intact
    _tamper(db_path, *statements)
    report = _verify(sessions)
    assert not report.intact
    assert report.broken_id == broken
    assert report.reason is not None and word in report.reason


def test_rolled_back_change_leaves_no_event_and_no_gap(sessions: sessionmaker[Session]) -> None:
    _seed(sessions, 3)
    with pytest.raises(RuntimeError), transaction(sessions) as db:
        record_event(db, "logout", "success", provider="acme", connection="default")
        raise RuntimeError("the change failed after its event was added")
    with transaction(sessions) as db:
        record_event(db, "logout", "success", provider="openai", connection="default")
    with sessions() as db:
        rows = db.execute(select(AuditEvent.id, AuditEvent.provider).order_by(AuditEvent.id)).all()
    assert [tuple(row) for row in rows][-2:] == [(3, "openai"), (4, "openai")]
    assert _verify(sessions).intact


def test_several_events_in_one_transaction_chain_in_order(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as db:
        for name in ("identity_registered", "claim_accepted", "principal_registered"):
            record_event(db, name, "success")
    with sessions() as db:
        names = db.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert names == ["identity_registered", "claim_accepted", "principal_registered"]
    assert _verify(sessions).intact


def test_concurrent_writers_and_batcher_keep_one_chain(sessions: sessionmaker[Session]) -> None:
    batcher = AuditBatcher(sessions)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for step in range(15):
                with transaction(sessions) as db:
                    record_event(db, "login", "success", identity=f"w{number}", detail={"s": step})
                    record_event(db, "logout", "success", identity=f"w{number}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def proxy(number: int) -> None:
        try:
            for step in range(60):
                batcher.add("proxy_request", "success", identity=f"p{number}", status=step)
                if step % 10 == 0:
                    batcher.flush()
            batcher.flush()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=proxy, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    batcher.flush()
    with sessions() as db:
        count = db.scalar(select(func.count()).select_from(AuditEvent))
        ids = db.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
    assert count == 4 * 15 * 2 + 3 * 60
    assert list(ids) == list(range(1, count + 1))
    report = _verify(sessions)
    assert report.intact and report.checked == count


def test_the_hand_written_canonical_form_equals_sorted_json() -> None:
    import json
    import random

    rng = random.Random(6)
    alphabet = ['"', "\\", "é", "\u2028", "\x00", "\n", "a", "Z", "/", "😀", " "]
    for _ in range(300):

        def text() -> str | None:
            if rng.random() < 0.2:
                return None
            return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))

        values = {name: text() for name in ("event", "outcome", "identity", "principal_id")}
        values |= {name: text() for name in ("provider", "connection", "method", "host", "path")}
        values["id"] = rng.randrange(1, 2**53)
        values["status"] = rng.choice([None, 200, 0, -1, 10**12])
        values["ts"] = T0 + timedelta(microseconds=rng.randrange(10**12))
        values["detail"] = {
            text() or "k": rng.choice([1.5, -0.0, 1e-7, 10**20, True, None, [1, "x"], {"b": 1}])
            for _ in range(rng.randrange(4))
        }
        reference = dict(values, ts=values["ts"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        expected = json.dumps(reference, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert canonical_json(values) == expected.encode()

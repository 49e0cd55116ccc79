"""The SQLite fast path of chain appends: rows written through the driver read
back exactly as the ORM expects them, and the chain still verifies.

Also the shortcut in ``normalise_detail``: it must give what the JSON round
trip gives, for every detail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import append_events, format_ts, normalise_detail, verify_chain
from authsome.store.models import AuditEvent


def test_driver_rows_read_back_as_written_and_verify(sessions: sessionmaker[Session]) -> None:
    plus_two = timezone(timedelta(hours=2))
    stamps = [
        datetime(2026, 12, 3, 22, 0, 0, 0, tzinfo=UTC),  # no microseconds
        datetime(2026, 12, 4, 0, 30, 5, 123456, tzinfo=plus_two),  # another zone
    ]
    details: list[dict[str, Any]] = [
        {"duration_ms": 0.42, "run": "run_1", "ok": True, "none": None},
        {"nested": {"b": [1, 2.5, "x"]}, "é": "ü"},
    ]
    with sessions() as session, session.begin():
        append_events(
            session,
            [
                {
                    "event": "proxy_request",
                    "outcome": "success",
                    "ts": ts,
                    "host": "api.example.test",
                    "path": "/v1/x",
                    "status": 200,
                    "detail": detail,
                }
                for ts, detail in zip(stamps, details, strict=True)
            ],
        )
    with sessions() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        raw = session.execute(text("SELECT ts FROM audit_events ORDER BY id")).scalars().all()
        report = verify_chain(session)
    assert [row.ts for row in rows] == [ts.astimezone(UTC) for ts in stamps]
    assert [row.detail for row in rows] == details
    assert [(row.status, row.host) for row in rows] == [(200, "api.example.test")] * 2
    # The same text SQLAlchemy's SQLite DATETIME writes (what queries compare against).
    assert raw == ["2026-12-03 22:00:00.000000", "2026-12-03 22:30:05.123456"]
    assert report.intact and report.checked == 2


def test_format_ts_keeps_six_digits_and_utc() -> None:
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    local = datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=timezone(timedelta(hours=-5)))
    assert format_ts(local) == "2026-01-02T08:04:05.000007Z"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text() | st.integers(), json_values, max_size=5))
def test_normalise_detail_equals_the_json_round_trip(detail: dict[Any, Any]) -> None:
    try:
        expected = json.loads(json.dumps(detail, allow_nan=False))
    except ValueError:  # NaN or infinity: refused either way
        try:
            normalise_detail(detail)
        except ValueError:
            return
        raise AssertionError("a non-finite float was accepted") from None
    assert normalise_detail(detail) == expected

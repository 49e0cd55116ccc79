"""Filters, cursor pages, time parsing, the page's aggregates and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.export import csv_lines
from authsome.audit.query import (
    EventFilter,
    histogram,
    page_events,
    parse_time,
    top_values,
)
from authsome.audit.writer import record_event
from authsome.errors import InvalidInput
from authsome.store.db import transaction

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _seed(sessions: sessionmaker[Session]) -> None:
    """40 events over the last 40 hours: two agents, two principals, mixed outcomes."""
    with transaction(sessions) as db:
        for number in range(40):
            record_event(
                db,
                "proxy_request" if number % 2 else "login",
                ("success", "failure", "denied", "success")[number % 4],
                identity=("brisk-amber-otter", "calm-blue-heron")[number % 2],
                principal_id=("p-admin", "p-user")[number % 2],
                provider=("openai", "acme")[number % 3 == 0],
                host="api.openai.com" if number % 2 else None,
                path="/v1/models" if number % 2 else None,
                ts=NOW - timedelta(hours=40 - number),
            )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", NOW - timedelta(hours=1)),
        ("30m", NOW - timedelta(minutes=30)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T10:30:00", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
        ("2026-12-01T10:30:00Z", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
        ("2026-12-01T12:30:00+02:00", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
    ],
)
def test_times_parse(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "1y", "-1h", "2026-13-01", ""])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_time(text, now=NOW)


def test_pages_go_newest_first_and_cursors_cover_everything(
    sessions: sessionmaker[Session],
) -> None:
    _seed(sessions)
    seen: list[int] = []
    cursor = None
    with sessions() as db:
        while True:
            page = page_events(db, EventFilter(), limit=7, before=cursor)
            seen.extend(event.id for event in page.events)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == list(range(40, 0, -1))


def test_oldest_first_after_a_cursor(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as db:
        page = page_events(db, EventFilter(), limit=5, after=35)
        assert [event.id for event in page.events] == [36, 37, 38, 39, 40]
        assert page.next_cursor == 40
        assert page_events(db, EventFilter(), limit=5, after=40).events == []


def test_filters_combine(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as db:
        denied = page_events(db, EventFilter(outcome="denied"), limit=100).events
        assert len(denied) == 10 and {e.outcome for e in denied} == {"denied"}
        mine = EventFilter(provider="openai").scoped_to("p-user")
        events = page_events(db, mine, limit=100).events
        assert events and {(e.principal_id, e.provider) for e in events} == {("p-user", "openai")}
        recent = page_events(db, EventFilter(since=NOW - timedelta(hours=5)), limit=100).events
        assert [e.id for e in recent] == [40, 39, 38, 37, 36]
        window = EventFilter(
            since=NOW - timedelta(hours=10), until=NOW - timedelta(hours=8), event="login"
        )
        assert [e.id for e in page_events(db, window, limit=100).events] == [31]
        by_agent = page_events(db, EventFilter(identity="calm-blue-heron"), limit=100).events
        assert len(by_agent) == 20
        by_host = page_events(db, EventFilter(host="api.openai.com"), limit=100).events
        assert len(by_host) == 20


def test_page_limits_are_checked(sessions: sessionmaker[Session]) -> None:
    with sessions() as db, pytest.raises(InvalidInput):
        page_events(db, EventFilter(), limit=0)
    with sessions() as db, pytest.raises(InvalidInput):
        page_events(db, EventFilter(), limit=10, before=5, after=1)


def test_histogram_has_every_bucket_split_by_outcome(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as db:
        hours = histogram(db, EventFilter(), start=NOW - timedelta(hours=6), end=NOW, unit="hour")
        days = histogram(db, EventFilter(), start=NOW - timedelta(days=2), end=NOW, unit="day")
    assert [bucket.start for bucket in hours] == [NOW - timedelta(hours=6 - n) for n in range(6)]
    assert [bucket.total for bucket in hours] == [1, 1, 1, 1, 1, 1]
    assert hours[-1].counts == {"success": 1}  # number 39: outcome index 3
    assert hours[-2].counts == {"denied": 1}
    assert len(days) == 3 and sum(bucket.total for bucket in days) == 40
    assert days[0].start == datetime(2026, 12, 1, tzinfo=UTC)


def test_top_values(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as db:
        agents = top_values(db, EventFilter(), "identity")
        hosts = top_values(db, EventFilter().scoped_to("p-admin"), "host")
    assert agents == [("brisk-amber-otter", 20), ("calm-blue-heron", 20)]
    assert hosts == []  # the admin principal's events are the logins, without hosts
    with sessions() as db, pytest.raises(InvalidInput):
        top_values(db, EventFilter(), "detail")


def test_csv_has_every_column_and_defuses_formulas(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as db:
        record_event(
            db,
            "proxy_request",
            "denied",
            host="api.acme.test",
            path="=HYPERLINK(1)",
            detail={"reason": "not in grant"},
            ts=NOW,
        )
    with sessions() as db:
        text = "".join(csv_lines(page_events(db, EventFilter(), limit=10).events))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["event"] == "proxy_request" and row["ts"] == "2026-12-03T12:00:00.000000Z"
    assert row["path"] == "'=HYPERLINK(1)"
    assert row["detail"] == '{"reason": "not in grant"}'
    assert len(row["hash"]) == 64

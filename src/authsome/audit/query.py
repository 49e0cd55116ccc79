"""Reading audit events: filters, cursor pages, and the page's aggregates.

Pages are ordered by ``id`` (the chain's order, which is the order events
were written): newest first, continued with ``before=<last id>``; or oldest
first after a given id (``after=``), which is how ``--follow`` and exports
stream. Every filter column has an index ending in ``id`` (migration 0005),
so a filtered page reads about ``limit`` index entries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from authsome.audit.chain import format_ts
from authsome.errors import InvalidInput
from authsome.store.models import AuditEvent

MAX_PAGE = 500
_RELATIVE = re.compile(r"^(\d{1,6})\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: Columns a caller may filter on, by their query-string name.
FILTER_COLUMNS = ("event", "provider", "identity", "outcome", "host")


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """``1h``/``30m``/``7d``/``2w`` ago, an ISO date (UTC midnight) or an ISO date-time.

    A date-time without a zone is taken as UTC.
    """
    value = text.strip()
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(value.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{value[:40]!r} is not a time: use 1h, 30m, 7d, 2w, 2026-12-01 or an ISO date-time"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class EventFilter:
    """Conditions ANDed together; ``principal_id`` scopes a non-admin to their own."""

    since: datetime | None = None
    until: datetime | None = None
    event: str | None = None
    provider: str | None = None
    identity: str | None = None
    outcome: str | None = None
    host: str | None = None
    principal_id: str | None = None

    def scoped_to(self, principal_id: str | None) -> EventFilter:
        return replace(self, principal_id=principal_id)

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for name in (*FILTER_COLUMNS, "principal_id"):
            value = getattr(self, name)
            if value is not None:
                found.append(getattr(AuditEvent, name) == value)
        if self.since is not None:
            found.append(AuditEvent.ts >= self.since)
        if self.until is not None:
            found.append(AuditEvent.ts < self.until)
        return found


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_cursor: int | None


def page_events(
    session: Session,
    filters: EventFilter,
    *,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> EventPage:
    """One page: newest first (``before``), or oldest first after ``after``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if before is not None and after is not None:
        raise InvalidInput("give before or after, not both")
    query = select(AuditEvent).where(*filters.conditions())
    if after is not None:
        query = query.where(AuditEvent.id > after).order_by(AuditEvent.id)
    else:
        if before is not None:
            query = query.where(AuditEvent.id < before)
        query = query.order_by(AuditEvent.id.desc())
    events = list(session.scalars(query.limit(limit)))
    cursor = events[-1].id if len(events) == limit else None
    return EventPage(events, cursor)


def get_event(session: Session, event_id: int, filters: EventFilter) -> AuditEvent | None:
    """One event, only if ``filters`` (the caller's scope) allow it."""
    query = select(AuditEvent).where(AuditEvent.id == event_id, *filters.conditions())
    return session.scalar(query)


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """The public form of one event (what ``--json`` prints, one per line)."""
    return {
        "id": event.id,
        "ts": format_ts(event.ts),
        "event": event.event,
        "outcome": event.outcome,
        "identity": event.identity,
        "principal_id": event.principal_id,
        "provider": event.provider,
        "connection": event.connection,
        "method": event.method,
        "host": event.host,
        "path": event.path,
        "status": event.status,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _bucket(session: Session, unit: str) -> ColumnElement[Any]:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        pattern = "%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d 00:00:00"
        return func.strftime(pattern, AuditEvent.ts)
    if dialect == "postgresql":
        return func.to_char(
            func.date_trunc(unit, AuditEvent.ts),
            "YYYY-MM-DD HH24:00:00" if unit == "hour" else "YYYY-MM-DD 00:00:00",
        )
    raise NotImplementedError(f"no time buckets for the {dialect} dialect")


@dataclass(frozen=True)
class Bucket:
    start: datetime
    counts: dict[str, int]  # outcome -> events

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def histogram(
    session: Session, filters: EventFilter, *, start: datetime, end: datetime, unit: str
) -> list[Bucket]:
    """Events per ``unit`` (hour or day) from ``start`` to ``end``, split by outcome.

    Every bucket in the range is present, empty ones included.
    """
    if unit not in ("hour", "day"):
        raise InvalidInput("the chart's unit is hour or day")
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    first = start.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        first = first.replace(hour=0)
    scoped = replace(filters, since=start, until=end)
    bucket = _bucket(session, unit).label("bucket")
    query: Select[Any] = (
        select(bucket, AuditEvent.outcome, func.count())
        .where(*scoped.conditions())
        .group_by(bucket, AuditEvent.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for label, outcome, count in session.execute(query):
        counts.setdefault(str(label), {})[outcome] = int(count)
    buckets: list[Bucket] = []
    moment = first
    while moment < end:
        buckets.append(Bucket(moment, counts.get(moment.strftime("%Y-%m-%d %H:%M:%S"), {})))
        moment += step
    return buckets


def top_values(
    session: Session, filters: EventFilter, column: str, *, limit: int = 5
) -> Sequence[tuple[str, int]]:
    """The most frequent non-empty values of ``column`` among matching events."""
    if column not in FILTER_COLUMNS:
        raise InvalidInput(f"cannot rank events by {column}")
    # Grouped by coalesce(), not the bare column, and without "IS NOT NULL":
    # either makes SQLite walk that column's whole index (every event ever)
    # instead of the time range (ix_audit_ts_cover).
    value = func.coalesce(getattr(AuditEvent, column), "").label("value")
    query = (
        select(value, func.count().label("n"))
        .where(*filters.conditions())
        .group_by(value)
        .order_by(func.count().desc(), value)
        .limit(limit + 1)
    )
    found = [(str(key), int(count)) for key, count in session.execute(query) if key]
    return found[:limit]

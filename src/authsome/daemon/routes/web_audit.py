"""The ``/audit`` page: filters, a chart by outcome, top agents and hosts, the events
themselves (cursor-paged), one event's detail, and a CSV download of a filter.

Admins see every event; anyone else only their own principal's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from authsome.audit.export import csv_lines
from authsome.audit.query import (
    EventFilter,
    event_dict,
    get_event,
    histogram,
    page_events,
    parse_time,
    top_values,
)
from authsome.daemon.deps import StateDep
from authsome.daemon.services.web_sessions import SignedIn
from authsome.daemon.web.chart import build_chart
from authsome.daemon.web.render import render
from authsome.daemon.web.security import SignedInDep, WebError, WebRoute, not_found
from authsome.errors import InvalidInput
from authsome.store.db import read_only_session
from authsome.store.models import AuditEvent

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
PERIODS: tuple[tuple[str, str], ...] = (
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("all", "All time"),
)
DEFAULT_PERIOD = "7d"
MAX_CHART_DAYS = 366
_TEXT = Query(max_length=255)
FILTER_FIELDS = ("since", "event", "provider", "identity", "outcome", "host")


def _filters(
    signed_in: SignedIn,
    since: str,
    event: str | None,
    provider: str | None,
    identity: str | None,
    outcome: str | None,
    host: str | None,
) -> EventFilter:
    try:
        start = None if since == "all" else parse_time(since)
    except InvalidInput as exc:
        raise WebError(400, exc.message) from None
    filters = EventFilter(
        since=start,
        event=event or None,
        provider=provider or None,
        identity=identity or None,
        outcome=outcome or None,
        host=host or None,
    )
    return filters if signed_in.is_admin else filters.scoped_to(signed_in.principal_id)


def _query(values: dict[str, str | None], **changes: str | int | None) -> str:
    merged = {**values, **changes}
    return urlencode({key: value for key, value in merged.items() if value not in (None, "")})


def _row(event: AuditEvent) -> dict[str, Any]:
    data = event_dict(event)
    data["when"] = event.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return data


@router.get("/audit")
def audit_page(
    request: Request,
    signed_in: SignedInDep,
    state: StateDep,
    since: Annotated[str, Query(max_length=64)] = DEFAULT_PERIOD,
    event: Annotated[str | None, _TEXT] = None,
    provider: Annotated[str | None, _TEXT] = None,
    identity: Annotated[str | None, _TEXT] = None,
    outcome: Annotated[str | None, _TEXT] = None,
    host: Annotated[str | None, _TEXT] = None,
    unit: Annotated[str | None, Query(pattern="^(hour|day)$")] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    values = {
        "since": since,
        "event": event,
        "provider": provider,
        "identity": identity,
        "outcome": outcome,
        "host": host,
    }
    filters = _filters(signed_in, since, event, provider, identity, outcome, host)
    now = datetime.now(UTC)
    with read_only_session(state.sessions, state.engine) as db:
        page = page_events(db, filters, limit=PAGE_SIZE, before=before)
        start = filters.since or _oldest(db, filters, now)
        start = max(start, now - timedelta(days=MAX_CHART_DAYS))
        chart_unit = unit or ("hour" if now - start <= timedelta(days=2) else "day")
        buckets = histogram(db, filters, start=start, end=now, unit=chart_unit)
        context: dict[str, Any] = {
            "values": values,
            "periods": PERIODS,
            "outcomes": ("success", "failure", "denied"),
            "chart": build_chart(buckets, chart_unit),
            "top_agents": top_values(db, filters, "identity"),
            "top_hosts": top_values(db, filters, "host"),
            "events": [_row(item) for item in page.events],
            "first_page": before is None,
            "newest_url": "/audit?" + _query(values),
            "older_url": (
                "/audit?" + _query(values, before=page.next_cursor) if page.next_cursor else None
            ),
            "csv_url": "/audit/export.csv?" + _query(values),
            "filter_url": lambda **change: "/audit?" + _query(values, **change),
        }
    return render(request, "audit.html", **context)


def _oldest(db: Any, filters: EventFilter, now: datetime) -> datetime:
    oldest = db.scalar(select(func.min(AuditEvent.ts)).where(*filters.conditions()))
    return oldest if oldest is not None else now - timedelta(days=1)


@router.get("/audit/export.csv")
def audit_csv(
    signed_in: SignedInDep,
    state: StateDep,
    since: Annotated[str, Query(max_length=64)] = DEFAULT_PERIOD,
    event: Annotated[str | None, _TEXT] = None,
    provider: Annotated[str | None, _TEXT] = None,
    identity: Annotated[str | None, _TEXT] = None,
    outcome: Annotated[str | None, _TEXT] = None,
    host: Annotated[str | None, _TEXT] = None,
) -> Response:
    """Every event of the filter, oldest first, streamed."""
    filters = _filters(signed_in, since, event, provider, identity, outcome, host)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _csv(state, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="authsome-audit-{stamp}.csv"'},
    )


def _csv(state: Any, filters: EventFilter) -> Iterator[str]:
    with read_only_session(state.sessions, state.engine) as db:
        after = 0
        header = True
        while True:
            page = page_events(db, filters, limit=500, after=after)
            lines = csv_lines(page.events)
            first = next(lines)
            if header:
                yield first
                header = False
            yield from lines
            if page.next_cursor is None:
                return
            after = page.next_cursor


@router.get("/audit/{event_id:int}")
def audit_event(
    event_id: int, request: Request, signed_in: SignedInDep, state: StateDep
) -> Response:
    scope = EventFilter()
    if not signed_in.is_admin:
        scope = replace(scope, principal_id=signed_in.principal_id)
    with read_only_session(state.sessions, state.engine) as db:
        found = get_event(db, event_id, scope)
        if found is None:
            raise not_found()
        return render(request, "audit_event.html", event=_row(found))

"""``GET /audit/events`` (filtered, cursor-paged) and ``GET /audit/verify`` (admins).

Admins see every event; anyone else only events of their own principal.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from authsome.audit.chain import verify_chain
from authsome.audit.query import MAX_PAGE, EventFilter, event_dict, page_events, parse_time
from authsome.daemon.deps import AdminDep, CallerDep, StateDep
from authsome.daemon.schemas import AuditEventPublic, AuditPagePublic, AuditVerifyPublic
from authsome.store.db import read_only_session

router = APIRouter(tags=["audit"])

_NAME = Query(max_length=255)


def event_filter(
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    event: Annotated[str | None, _NAME] = None,
    provider: Annotated[str | None, _NAME] = None,
    identity: Annotated[str | None, _NAME] = None,
    outcome: Annotated[str | None, _NAME] = None,
    host: Annotated[str | None, _NAME] = None,
) -> EventFilter:
    """The filters shared by the API and the page, from the query string."""
    return EventFilter(
        since=parse_time(since) if since else None,
        until=parse_time(until) if until else None,
        event=event or None,
        provider=provider or None,
        identity=identity or None,
        outcome=outcome or None,
        host=host or None,
    )


FilterDep = Annotated[EventFilter, Depends(event_filter)]


def visible_to(filters: EventFilter, *, role: str | None, principal_id: str | None) -> EventFilter:
    """Admins see everything; anyone else only their own principal's events."""
    return filters if role == "admin" else filters.scoped_to(principal_id or "")


@router.get("/audit/events")
def list_events(
    filters: FilterDep,
    caller: CallerDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> AuditPagePublic:
    """Newest first (continue with ``before=next_cursor``), or oldest first after ``after``."""
    scoped = visible_to(filters, role=caller.role, principal_id=caller.principal_id)
    with read_only_session(state.sessions, state.engine) as db:
        page = page_events(db, scoped, limit=limit, before=before, after=after)
        events = [AuditEventPublic(**event_dict(event)) for event in page.events]
    return AuditPagePublic(events=events, next_cursor=page.next_cursor)


@router.get("/audit/verify")
def verify(caller: AdminDep, state: StateDep) -> AuditVerifyPublic:
    """Walk the whole chain; name the first event that does not fit."""
    with read_only_session(state.sessions, state.engine) as db:
        report = verify_chain(db)
    return AuditVerifyPublic(
        intact=report.intact,
        checked=report.checked,
        first_id=report.first_id,
        head_id=report.head_id,
        head_hash=report.head_hash,
        broken_id=report.broken_id,
        reason=report.reason,
    )

"""``GET /audit/events`` (filtered, cursor-paged) and ``GET /audit/verify`` (admins).

Admins see every event; anyone else only events of their own principal. The
CLI signs its requests (PoP); the dashboard's pages may call the same routes
with their session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from authsome.audit.chain import verify_chain
from authsome.audit.query import MAX_PAGE, EventFilter, event_dict, page_events, parse_time
from authsome.daemon.deps import StateDep, request_url
from authsome.daemon.schemas import AuditEventPublic, AuditPagePublic, AuditVerifyPublic
from authsome.daemon.services.caller import load_caller, verify_request_proof
from authsome.daemon.web.security import SESSION_COOKIE, get_browser
from authsome.errors import OperationNotAllowed
from authsome.store.db import read_only_session, transaction

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


@dataclass(frozen=True)
class Viewer:
    """Whoever reads the audit log: a signed-in browser or a PoP-signed agent."""

    principal_id: str | None
    role: str | None

    def scope(self, filters: EventFilter) -> EventFilter:
        """Admins see everything; anyone else only their own principal's events."""
        return filters if self.role == "admin" else filters.scoped_to(self.principal_id or "")


def get_viewer(request: Request, state: StateDep) -> Viewer:
    """A browser session when there is no DPoP header, else the proof's identity.

    These routes are GETs without a body, so the proof is checked against an
    empty one.
    """
    header = request.headers.get("dpop")
    if header is None and request.cookies.get(SESSION_COOKIE):
        signed_in = get_browser(request, state).signed_in
        if signed_in is not None:
            return Viewer(signed_in.principal_id, signed_in.role)
    proof = verify_request_proof(
        state.replay,
        header=header,
        method=request.method,
        url=request_url(request, state),
        body=b"",
    )
    with transaction(state.sessions) as db:
        caller = load_caller(db, proof.jkt)
    return Viewer(caller.principal_id, caller.role)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


@router.get("/audit/events")
def list_events(
    filters: FilterDep,
    viewer: ViewerDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> AuditPagePublic:
    """Newest first (continue with ``before=next_cursor``), or oldest first after ``after``."""
    scoped = viewer.scope(filters)
    with read_only_session(state.sessions, state.engine) as db:
        page = page_events(db, scoped, limit=limit, before=before, after=after)
        events = [AuditEventPublic(**event_dict(event)) for event in page.events]
    return AuditPagePublic(events=events, next_cursor=page.next_cursor)


@router.get("/audit/verify")
def verify(viewer: ViewerDep, state: StateDep) -> AuditVerifyPublic:
    """Walk the whole chain; name the first event that does not fit."""
    if viewer.role != "admin":
        raise OperationNotAllowed(
            "only an admin principal may verify the whole audit log",
            hint="ask an admin to run `authsome log --verify`",
        )
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

"""Overview and activity pages, and the dashboard's static files."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request, Response

from authsome.daemon.deps import StateDep
from authsome.daemon.services.dashboard import counts, page_events, vault_of
from authsome.daemon.web.paging import PagingDep
from authsome.daemon.web.render import render
from authsome.daemon.web.security import SignedInDep, WebRoute, not_found
from authsome.store.db import transaction

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
RECENT = 8


@router.get("/")
def overview(request: Request, signed_in: SignedInDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        vault = vault_of(db, signed_in.principal_id)
        events, _total = page_events(db, signed_in, offset=0, limit=RECENT)
        return render(
            request,
            "overview.html",
            counts=counts(db, signed_in, vault.id if vault else None),
            events=events,
        )


@router.get("/ui/activity")
def activity(
    request: Request, signed_in: SignedInDep, paging: PagingDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        events, total = page_events(db, signed_in, offset=paging.offset, limit=paging.per_page)
        return render(request, "activity.html", events=events, pager=paging.pager(total))


@router.get("/static/{name}")
def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        raise not_found()
    body = resources.files("authsome.daemon").joinpath("web", "static", name).read_bytes()
    response = Response(body, media_type=media_type)
    response.headers["Cache-Control"] = "max-age=300"
    return response

"""Settings: password and sessions; for admins, principals, the registration switch, invites."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from authsome.daemon.deps import StateDep
from authsome.daemon.services.dashboard import page_principals
from authsome.daemon.services.invites import create_invite, open_invites, revoke_invite
from authsome.daemon.services.principals import (
    change_password,
    dashboard_settings,
    set_registration_open,
)
from authsome.daemon.services.web_sessions import end_all_sessions, end_session, live_sessions
from authsome.daemon.web.paging import PagingDep
from authsome.daemon.web.render import render
from authsome.daemon.web.security import (
    AdminDep,
    BrowserDep,
    FormDep,
    SignedInDep,
    WebRoute,
)
from authsome.errors import AuthenticationFailed, InvalidInput
from authsome.store.db import transaction
from authsome.store.models import Principal

router = APIRouter(prefix="/ui/settings", route_class=WebRoute, include_in_schema=False)


@router.get("")
def settings(
    request: Request, signed_in: SignedInDep, paging: PagingDep, state: StateDep
) -> Response:
    return _settings_page(request, signed_in, paging, state, error=None)


def _settings_page(
    request: Request,
    signed_in: SignedInDep,
    paging: PagingDep,
    state: StateDep,
    *,
    error: str | None,
    status: int = 200,
) -> Response:
    with transaction(state.sessions) as db:
        rows, total = live_sessions(
            db,
            datetime.now(UTC),
            principal_id=signed_in.principal_id,
            offset=paging.offset,
            limit=paging.per_page,
        )
        registration_open = dashboard_settings(db).registration_open
        return render(
            request,
            "settings.html",
            status=status,
            sessions=rows,
            pager=paging.pager(total),
            registration_open=registration_open,
            error=error,
        )


@router.post("/password")
def password(
    request: Request,
    signed_in: SignedInDep,
    browser: BrowserDep,
    form: FormDep,
    paging: PagingDep,
    state: StateDep,
) -> Response:
    new = form.get("new_password")
    try:
        if new != form.get("new_password_again"):
            raise InvalidInput("the two new passwords differ")
        with transaction(state.sessions) as db:
            principal = db.get(Principal, signed_in.principal_id)
            assert principal is not None
            change_password(db, principal, form.get("current_password"), new)
            end_all_sessions(db, principal.id, datetime.now(UTC))
    except (InvalidInput, AuthenticationFailed) as exc:
        return _settings_page(request, signed_in, paging, state, error=exc.message, status=400)
    browser.end_session()
    return RedirectResponse("/login?done=password", 303)


@router.post("/sessions/{session_id}/end")
def end(
    session_id: str, signed_in: SignedInDep, browser: BrowserDep, form: FormDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        end_session(db, session_id[:64], by=signed_in, now=datetime.now(UTC))
    if session_id == signed_in.session_id:
        browser.end_session()
        return RedirectResponse("/login?done=signed_out", 303)
    back = "/ui/settings/sessions" if form.get("from") == "all" else "/ui/settings"
    return RedirectResponse(f"{back}?done=session_ended", 303)


@router.get("/sessions")
def all_sessions(request: Request, admin: AdminDep, paging: PagingDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        rows, total = live_sessions(
            db, datetime.now(UTC), principal_id=None, offset=paging.offset, limit=paging.per_page
        )
        return render(request, "sessions.html", sessions=rows, pager=paging.pager(total))


@router.get("/principals")
def principals(request: Request, admin: AdminDep, paging: PagingDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        rows, total = page_principals(db, offset=paging.offset, limit=paging.per_page)
        return render(request, "principals.html", rows=rows, pager=paging.pager(total))


@router.post("/registration")
def registration(admin: AdminDep, form: FormDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        set_registration_open(db, form.flag("open"), by=admin.principal_id)
    return RedirectResponse("/ui/settings?done=registration", 303)


def _invites_page(
    request: Request, paging: PagingDep, state: StateDep, *, new_link: str | None
) -> Response:
    with transaction(state.sessions) as db:
        rows, total = open_invites(
            db, datetime.now(UTC), offset=paging.offset, limit=paging.per_page
        )
        return render(
            request, "invites.html", invites=rows, pager=paging.pager(total), new_link=new_link
        )


@router.get("/invites")
def invites(request: Request, admin: AdminDep, paging: PagingDep, state: StateDep) -> Response:
    return _invites_page(request, paging, state, new_link=None)


@router.post("/invites")
def new_invite(
    request: Request, admin: AdminDep, form: FormDep, paging: PagingDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        made = create_invite(db, created_by=admin.principal_id, now=datetime.now(UTC))
    base = state.settings.public_url or f"{request.url.scheme}://{request.headers['host']}"
    # Shown once, in this response only: the database keeps just its hash.
    return _invites_page(request, paging, state, new_link=f"{base.rstrip('/')}/invite/{made.token}")


@router.post("/invites/{invite_id}/revoke")
def revoke(invite_id: str, admin: AdminDep, form: FormDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        revoke_invite(db, invite_id[:64], by=admin.principal_id, now=datetime.now(UTC))
    return RedirectResponse("/ui/settings/invites?done=invite_revoked", 303)

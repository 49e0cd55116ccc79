"""Dashboard sign-in, registration (first principal, open switch, invites), sign-out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from authsome.daemon.deps import StateDep
from authsome.daemon.services.invites import find_usable_invite
from authsome.daemon.services.principals import (
    dashboard_settings,
    has_principals,
    register_principal,
    sign_in,
)
from authsome.daemon.services.web_sessions import end_session, start_session
from authsome.daemon.web.render import render
from authsome.daemon.web.security import (
    Browser,
    BrowserDep,
    FormDep,
    SignedInDep,
    WebRoute,
    safe_next,
)
from authsome.errors import InvalidInput, OperationNotAllowed
from authsome.store.db import transaction
from authsome.store.models import Principal

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NextQuery = Annotated[str | None, Query(alias="next", max_length=2048)]


def _with_next(path: str, target: str) -> str:
    """``path?next=target``: where to go after signing in or registering (a local
    path already passed through ``safe_next``; ``/`` needs no parameter)."""
    return path if target == "/" else f"{path}?next={quote(target, safe='/')}"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _signed_in_redirect(
    request: Request, state: StateDep, browser: Browser, principal: Principal, target: str
) -> Response:
    with transaction(state.sessions) as db:
        token = start_session(
            db,
            principal,
            client=_client(request),
            user_agent=request.headers.get("user-agent"),
            now=datetime.now(UTC),
        )
    browser.start_session(token)
    return RedirectResponse(safe_next(target), status_code=303)


@router.get("/login")
def login_page(
    request: Request, browser: BrowserDep, state: StateDep, next: NextQuery = None
) -> Response:
    target = safe_next(next)
    if browser.signed_in is not None:
        return RedirectResponse(target, status_code=303)
    with transaction(state.sessions) as db:
        if not has_principals(db):
            # No account yet: the first one is made on /register, which then goes on
            # to the page that sent the browser here (a claim link, typically).
            return RedirectResponse(_with_next("/register", target), status_code=303)
    return render(request, "login.html", next=target, error=None, email="")


@router.post("/login")
def login(request: Request, browser: BrowserDep, form: FormDep, state: StateDep) -> Response:
    email, target = form.get("email")[:320], safe_next(form.get("next"))
    with transaction(state.sessions) as db:
        outcome = sign_in(db, email, form.get("password"), client=_client(request), via="dashboard")
    if outcome.principal is None:
        error = outcome.error()
        page = render(
            request,
            "login.html",
            status=429 if outcome.retry_after else 401,
            next=target,
            error=error.message,
            email=email,
        )
        if outcome.retry_after:
            page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    return _signed_in_redirect(request, state, browser, outcome.principal, target)


def _registration_mode(state: StateDep, invite: str | None) -> str:
    """``first``, ``open``, ``invite`` or ``closed``."""
    now = datetime.now(UTC)
    with transaction(state.sessions) as db:
        settings = dashboard_settings(db)
        if settings.first_principal_id is None and not has_principals(db):
            return "first"
        if invite and find_usable_invite(db, invite, now) is not None:
            return "invite"
        return "open" if settings.registration_open else "closed"


@router.get("/register")
def register_page(
    request: Request, browser: BrowserDep, state: StateDep, next: NextQuery = None
) -> Response:
    mode = _registration_mode(state, None)
    return render(
        request,
        "register.html",
        mode=mode,
        invite="",
        next=safe_next(next),
        error=None,
        email="",
    )


@router.get("/invite/{token}")
def invite_page(token: str, request: Request, browser: BrowserDep, state: StateDep) -> Response:
    mode = _registration_mode(state, token[:128])
    if mode != "invite":
        # One answer for unknown, used and expired links.
        return render(
            request,
            "error.html",
            status=404,
            status_code=404,
            message="This invite link is not valid: it was used, it expired, or it never existed.",
        )
    return render(request, "register.html", mode=mode, invite=token, next="/", error=None, email="")


@router.post("/register")
def register(request: Request, browser: BrowserDep, form: FormDep, state: StateDep) -> Response:
    email, invite = form.get("email")[:320], form.get("invite")[:128] or None
    target = safe_next(form.get("next"))
    try:
        if form.get("password") != form.get("password_again"):
            raise InvalidInput("the two passwords differ")
        with transaction(state.sessions) as db:
            principal = register_principal(db, email, form.get("password"), invite_token=invite)
        return _signed_in_redirect(request, state, browser, principal, target)
    except (InvalidInput, OperationNotAllowed) as exc:
        error = exc.message + (f" ({exc.hint})" if exc.hint else "")
        status = exc.http_status
    mode = _registration_mode(state, invite)
    return render(
        request,
        "register.html",
        status=status,
        mode=mode,
        invite=invite or "",
        next=target,
        error=error,
        email=email,
    )


@router.post("/logout")
def logout(signed_in: SignedInDep, browser: BrowserDep, form: FormDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        end_session(db, signed_in.session_id, by=signed_in, now=datetime.now(UTC))
    browser.end_session()
    return RedirectResponse("/login?done=signed_out", status_code=303)

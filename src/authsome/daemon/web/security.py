"""Browser-side security: session cookie, CSRF, Origin check, headers.

Every dashboard route uses ``WebRoute``, which turns errors into HTML pages,
adds the security headers and sets the cookies a handler asked for.

- Signed-in browsers carry ``authsome_session`` (HttpOnly, SameSite=Strict,
  Secure when the public URL is https); anonymous ones get ``authsome_pre``
  so that the sign-in and registration forms have a CSRF token bound to
  something too.
- A POST must come from our own origin (``Origin``, else ``Referer``, else
  ``Sec-Fetch-Site: same-origin``) and carry the form field ``csrf``;
  otherwise it is refused with 403 before the handler runs.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from authsome.daemon.deps import StateDep
from authsome.daemon.services.ids import new_token
from authsome.daemon.services.web_sessions import (
    ABSOLUTE,
    SignedIn,
    csrf_token,
    load_session,
)
from authsome.daemon.state import DaemonState
from authsome.errors import AuthsomeError, RateLimited
from authsome.store.db import transaction

SESSION_COOKIE = "authsome_session"
PRE_COOKIE = "authsome_pre"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    # Not no-referrer: Chromium then sends "Origin: null" on same-origin form posts.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class LoginRequired(Exception):
    """No valid session: send the browser to the sign-in page, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class WebError(Exception):
    """An HTML error page with ``status`` (403 for CSRF/Origin, 404 for others' objects)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found() -> WebError:
    """The one answer for "absent" and "not yours": never a 403 that confirms it exists."""
    return WebError(404, "There is nothing here, or it is not yours to see.")


@dataclass
class Browser:
    """The browser behind a request: signed in or not, and its CSRF token."""

    signed_in: SignedIn | None
    csrf: str
    secure: bool
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    def set_cookie(self, name: str, value: str, max_age: int | None) -> None:
        """Ask ``WebRoute`` to set a cookie on whatever response the handler returns."""
        self.cookies.append((name, value, max_age))

    def start_session(self, token: str) -> None:
        self.set_cookie(SESSION_COOKIE, token, int(ABSOLUTE.total_seconds()))

    def end_session(self) -> None:
        self.set_cookie(SESSION_COOKIE, "", 0)


@dataclass(frozen=True)
class Form:
    """A urlencoded form body (read with the standard library: no multipart needed)."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def getall(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def flag(self, name: str) -> bool:
        return self.get(name) in {"on", "1", "true", "yes"}


def is_secure(state: DaemonState) -> bool:
    return bool(state.settings.public_url and state.settings.public_url.startswith("https:"))


def get_browser(request: Request, state: StateDep) -> Browser:
    """Who is browsing; never refuses (pages that need a sign-in use ``SignedInDep``)."""
    existing = getattr(request.state, "browser", None)
    if isinstance(existing, Browser):
        return existing
    secure = is_secure(state)
    token = request.cookies.get(SESSION_COOKIE, "")
    signed_in = None
    if _TOKEN_SHAPE.fullmatch(token):
        with transaction(state.sessions) as db:
            signed_in = load_session(db, token, datetime.now(UTC))
    if signed_in is not None:
        browser = Browser(signed_in, csrf_token(token), secure)
    else:
        pre = request.cookies.get(PRE_COOKIE, "")
        if not _TOKEN_SHAPE.fullmatch(pre):
            pre = new_token()
        browser = Browser(None, csrf_token(pre), secure)
        if pre != request.cookies.get(PRE_COOKIE):
            browser.set_cookie(PRE_COOKIE, pre, None)
        if token:
            browser.end_session()  # a stale cookie: drop it
    request.state.browser = browser
    return browser


BrowserDep = Annotated[Browser, Depends(get_browser)]


def _next_path(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def get_signed_in(request: Request, browser: BrowserDep) -> SignedIn:
    if browser.signed_in is None:
        raise LoginRequired(_next_path(request) if request.method == "GET" else "/")
    return browser.signed_in


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


def get_admin(signed_in: SignedInDep) -> SignedIn:
    if not signed_in.is_admin:
        raise not_found()  # admin pages do not exist for users
    return signed_in


AdminDep = Annotated[SignedIn, Depends(get_admin)]


def own_origins(request: Request, state: DaemonState) -> set[str]:
    """Our origins: as reached (Host is already checked by the guard) and the public URL."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    public = state.settings.public_url
    if public:
        parts = urlsplit(public)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_same_origin(request: Request, state: DaemonState) -> bool:
    """Evidence that a POST comes from one of our pages, strongest first."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin.lower() in own_origins(request, state)
    referer = request.headers.get("referer")
    if referer:
        return _origin_of(referer) in own_origins(request, state)
    return site == "same-origin"


async def get_form(request: Request, browser: BrowserDep, state: StateDep) -> Form:
    """The posted form, after the Origin and CSRF checks (403 page otherwise)."""
    if not is_same_origin(request, state):
        raise WebError(403, "This form was sent from another site, so it was refused.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise WebError(400, "Forms must be sent as application/x-www-form-urlencoded.")
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        form = Form(parse_qs(body, keep_blank_values=True, max_num_fields=2000))
    except ValueError:
        raise WebError(400, "That form has too many fields.") from None
    submitted = form.get("csrf")
    if not submitted or not hmac.compare_digest(browser.csrf.encode(), submitted.encode()):
        raise WebError(403, "This form has expired or did not come from this page. Reload it.")
    return form


FormDep = Annotated[Form, Depends(get_form)]


def login_redirect(next_path: str) -> RedirectResponse:
    target = "/login"
    if next_path and next_path != "/":
        target += "?next=" + quote(next_path, safe="/")
    return RedirectResponse(target, status_code=303)


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect a signed-in browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _finish(request: Request, response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    browser = getattr(request.state, "browser", None)
    if isinstance(browser, Browser):
        for name, value, max_age in browser.cookies:
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path="/",
                httponly=True,
                samesite="strict",
                secure=browser.secure,
            )
    return response


class WebRoute(APIRoute):
    """Dashboard routes: HTML errors, security headers, cookies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            from authsome.daemon.web.render import error_page

            try:
                response = await original(request)
            except LoginRequired as exc:
                response = login_redirect(exc.next_path)
            except WebError as exc:
                response = error_page(request, exc.status, exc.message)
            except RateLimited as exc:
                response = error_page(request, 429, exc.message)
                response.headers["Retry-After"] = str(exc.retry_after)
            except AuthsomeError as exc:
                response = error_page(request, exc.http_status, exc.message)
            except RequestValidationError:
                response = error_page(request, 400, "That request was malformed.")
            return _finish(request, response)

        return handler

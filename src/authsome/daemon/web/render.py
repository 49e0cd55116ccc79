"""Rendering dashboard pages with Jinja2 (autoescaped, strict about undefined names)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from authsome import __version__

if TYPE_CHECKING:
    from jinja2 import Environment

#: Messages a redirect may ask a page to show (``?done=<key>``): fixed texts,
#: so no query string is ever reflected into a page.
NOTICES = {
    "accepted": "Claim accepted. The agent can use its grant now.",
    "rejected": "Claim rejected. The agent stays unclaimed.",
    "grant": "Grant saved; running agents use it from their next request.",
    "revoked": "Agent revoked: its next request is refused.",
    "default": "Default connection changed.",
    "logged_out_connection": "Connection removed; the credential stays valid at the service.",
    "revoked_connection": "Tokens revoked at the provider; connection removed.",
    "kept_connection": (
        "Connection removed, but the provider did not confirm the revocation: "
        "revoke the grant in the service's own settings."
    ),
    "refreshed": "Token refreshed.",
    "logged_in": "Logged in: the connection is stored encrypted in your vault.",
    "client_saved": "OAuth client saved for this deployment.",
    "provider_revoked": "Every token of this provider was revoked and its connections removed.",
    "stored": "Connection stored.",
    "provider_saved": "Provider saved.",
    "provider_removed": "Custom provider removed.",
    "session_ended": "Session ended.",
    "registration": "Registration setting saved.",
    "invite_revoked": "Invite revoked.",
    "signed_out": "You are signed out.",
    "password": "Password changed. Every session was ended; sign in again.",
}


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: datetime | None) -> str:
    """Relative time: "5 min ago", "in 2 h", "just now"."""
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    amount = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if amount >= size:
            text = f"{amount // size} {unit}"
            return f"in {text}" if seconds < 0 else f"{text} ago"
    return "just now"


def fingerprint(jkt: str) -> str:
    """How the CLI prints an identity key (the RFC 7638 SHA-256 thumbprint)."""
    return f"SHA256:{jkt}"


@functools.cache
def environment() -> Environment:
    # Imported on the first page, not at daemon start (idle memory, start-up time).
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("authsome.daemon", "web/templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, fingerprint=fingerprint)
    env.globals["version"] = __version__
    return env


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page; the browser (for the nav and the CSRF field) comes from the request."""
    browser = getattr(request.state, "browser", None)
    notice = NOTICES.get(request.query_params.get("done", ""))
    html = (
        environment()
        .get_template(template)
        .render(
            browser=browser,
            me=browser.signed_in if browser else None,
            csrf=browser.csrf if browser else "",
            path=request.url.path,
            notice=notice,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)

"""What the user's browser reaches during an OAuth login (no PoP: a browser has no key).

    GET  /auth/callback/oauth               the authorization server redirects here
    GET  /auth/client-form/{id}?t=TOKEN     a form for the client id/secret a login needs
    POST /auth/client-form/{id}             its submission, then on to the provider

The callback is authorised by its single-use ``state``; the form by a
one-time token in its URL (only the CLI that started the login has it) and,
for the POST, by an Origin / Sec-Fetch-Site check. Pages carry a strict CSP,
no referrer beyond our origin, and are never cached.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from authsome.daemon.deps import StateDep
from authsome.daemon.routes.oauth import CALLBACK_PATH, daemon_url, logins
from authsome.daemon.services.ids import token_digest
from authsome.daemon.state import DaemonState
from authsome.errors import AuthsomeError
from authsome.store.db import transaction
from authsome.store.models import AuthSession

router = APIRouter(tags=["oauth-browser"], include_in_schema=False)

_MAX_PARAM = 4096


def _headers(form_targets: str = "'self'") -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action {form_targets}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d2330}h1{font-size:1.4rem}label{display:block;margin:.8rem 0}"
    "input{display:block;width:100%;padding:.4rem;margin-top:.2rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}.muted{color:#666}"
)


def _page(
    title: str, body: str, *, status: int = 200, form_targets: str = "'self'"
) -> HTMLResponse:
    document = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} · Authsome</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_headers(form_targets))


def _params(request: Request) -> dict[str, str]:
    """The first value of each query parameter, bounded (no repeated or huge values)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in found or len(value) > _MAX_PARAM:
            continue
        found[name] = value
    return found


@router.get(CALLBACK_PATH)
async def oauth_callback(request: Request, state: StateDep) -> HTMLResponse:
    """The authorization server sends the browser back here with a code (or an error)."""
    result = await logins(state).callback(_params(request))
    if result.ok:
        return _page(
            "Logged in",
            f"<p>{html.escape(result.message)} The connection "
            f"<strong>{html.escape(result.connection or '')}</strong> is stored encrypted "
            "in your vault.</p><p class='muted'>You can close this tab, or "
            f"<a href='/ui/connections/{html.escape(result.provider or '')}/"
            f"{html.escape(result.connection or '')}'>see it in the dashboard</a>.</p>",
        )
    return _page(
        "Login not completed",
        f"<p class='error'>{html.escape(result.message)}</p>"
        "<p class='muted'>Nothing was stored. Run <code>authsome login</code> again.</p>",
        status=400,
    )


def _form_session(state: DaemonState, session_id: str, token: str) -> AuthSession | None:
    if not token or len(token) > 128:
        return None
    with transaction(state.sessions) as db:
        row = db.get(AuthSession, session_id[:64])
        if row is None or row.status != "needs_client" or row.form_token_hash is None:
            return None
        return row if row.form_token_hash == token_digest(token) else None


_GONE = (
    "<p class='error'>This form is no longer valid: the login ended, expired or "
    "already has its client.</p><p class='muted'>Run <code>authsome login</code> again.</p>"
)


@router.get("/auth/client-form/{session_id}")
def client_form(session_id: str, request: Request, state: StateDep) -> HTMLResponse:
    """Ask for the OAuth client id and secret of the provider being logged in to."""
    token = request.query_params.get("t", "")
    row = _form_session(state, session_id, token)
    if row is None:
        return _page("Login not found", _GONE, status=404)
    provider = state.catalogue.find(row.provider)
    name = provider.display_name if provider else row.provider
    action = f"/auth/client-form/{html.escape(row.id)}"
    body = (
        f"<p>Logging in to <strong>{html.escape(name)}</strong> needs an OAuth client "
        "registered with it. Enter its id and secret; they are stored encrypted and "
        "used for everyone on this Authsome deployment.</p>"
        f"<form method='post' action='{action}' autocomplete='off'>"
        f"<input type='hidden' name='t' value='{html.escape(token)}'>"
        "<label>Client id <input name='client_id' required maxlength='512'></label>"
        "<label>Client secret (leave empty for a public client) "
        "<input name='client_secret' type='password' maxlength='4096'></label>"
        f"<p class='muted'>Redirect URI to register: "
        f"<code>{html.escape(row.endpoints.get('redirect_uri', ''))}</code></p>"
        "<button type='submit'>Continue</button></form>"
    )
    return _page(f"{name}: OAuth client", body)


def _same_origin(request: Request, state: DaemonState) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    ours = {daemon_url(request, state).lower(), f"{request.url.scheme}://{request.url.netloc}"}
    return origin.lower() in ours


@router.post("/auth/client-form/{session_id}")
async def submit_client_form(session_id: str, request: Request, state: StateDep) -> Response:
    """Store the client, then send the browser on to the provider (or show the device code)."""
    if not _same_origin(request, state):
        return _page(
            "Refused", "<p class='error'>This form must be sent from its own page.</p>", status=403
        )
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    token = (fields.get("t") or [""])[0]
    if _form_session(state, session_id, token) is None:
        return _page("Login not found", _GONE, status=404)
    try:
        started = await logins(state).provide_client(
            session_id,
            client_id=(fields.get("client_id") or [""])[0],
            client_secret=(fields.get("client_secret") or [""])[0],
            form_token=token,
        )
    except AuthsomeError as exc:
        return _page(
            "Login not started",
            f"<p class='error'>{html.escape(exc.message)}</p>",
            status=exc.http_status,
        )
    if started.authorization_url:
        target = urlsplit(started.authorization_url)
        response = RedirectResponse(started.authorization_url, status_code=303)
        response.headers.update(_headers(f"'self' {target.scheme}://{target.netloc}"))
        return response
    row = started.session
    link = row.endpoints.get("verification_uri_complete") or row.endpoints.get("verification_uri")
    return _page(
        "Enter the code",
        f"<p>Open <a href='{html.escape(link or '')}'>{html.escape(link or '')}</a> and "
        f"enter <strong>{html.escape(row.user_code or '')}</strong>.</p>"
        # The daemon polls the provider itself, so this holds for a login started
        # from the terminal and from the dashboard alike.
        "<p class='muted'>Once you approve it there, Authsome stores the connection; "
        "you can close this page.</p>",
    )

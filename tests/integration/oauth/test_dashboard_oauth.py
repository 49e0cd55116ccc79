"""The dashboard's OAuth buttons against the real authorization server: log in, refresh
now, revoke."""

from __future__ import annotations

import html
import re

from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.web import Browser


def test_refresh_now_and_revoke_from_the_connection_page(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    browser = Browser(oauth_env.daemon.url)
    browser.login(EMAIL, PASSWORD)
    page = "/ui/connections/oauthco/default"
    detail = browser.get(page).text
    assert "Refresh now" in detail and "Revoke and log out" in detail
    before = len(oauth_env.server.token_requests("refresh_token"))
    refreshed = browser.post(f"{page}/refresh", form_page=page)
    assert refreshed.headers["location"] == f"{page}?done=refreshed"
    assert "Token refreshed." in browser.get(refreshed.headers["location"]).text
    assert len(oauth_env.server.token_requests("refresh_token")) == before + 1

    newest = oauth_env.server.issued("RefreshToken")[-1]
    assert oauth_env.server.introspect(newest)["active"] is True
    revoked = browser.post(f"{page}/logout", {"revoke": "on"}, form_page=page)
    assert revoked.headers["location"] == "/ui/connections?done=revoked_connection"
    assert oauth_env.server.introspect(newest)["active"] is False
    assert oauth_env.connection("oauthco") is None
    assert browser.get(page).status_code == 404
    oauth_env.assert_no_secrets_leaked()


def test_log_in_from_the_dashboard_runs_the_providers_flow(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()  # an agent's login: it also stores the deployment's OAuth client
    browser = Browser(oauth_env.daemon.url)
    browser.login(EMAIL, PASSWORD)
    provider_page = browser.get("/ui/providers/oauthco").text
    assert 'action="/ui/connections/login"' in provider_page

    started = browser.post(
        "/ui/connections/login",
        {"provider": "oauthco", "connection": "web"},
        form_page="/ui/providers/oauthco",
    )
    assert started.status_code == 200, started.text
    assert "Continue to" in started.text
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/oidc/auth\?[^"]+)"', started.text)
    assert link, started.text
    assert oauth_env.connection("oauthco", "web") is None  # nothing until the callback
    with ScriptedBrowser() as provider:
        done = provider.open(html.unescape(link.group(1)))
    assert done.final.status_code == 200 and "Logged in" in done.final.text
    assert "/ui/connections/oauthco/web" in done.final.text

    stored = oauth_env.connection("oauthco", "web")
    assert stored is not None and stored["status"] == "active"
    detail = browser.get("/ui/connections/oauthco/web").text
    assert "Log in again" in detail
    assert oauth_env.call_api()["status"] == 200  # the agent still uses its default one
    # Audited like a CLI login, for the principal and no agent.
    with oauth_env.db() as db:
        rows = db.execute(
            "SELECT event, outcome, identity, principal_id FROM audit_events "
            "WHERE provider = 'oauthco' AND connection = 'web' ORDER BY id"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("login_started", "success", None),
        ("login", "success", None),
    ]
    assert all(r[3] for r in rows)

    # Logging in again to an existing connection needs "replace"; the button sends it.
    again = browser.post(
        "/ui/connections/login",
        {"provider": "oauthco", "connection": "web"},
        form_page="/ui/providers/oauthco",
    )
    assert again.status_code == 409 and "already" in again.text
    replace = browser.post(
        "/ui/connections/login",
        {"provider": "oauthco", "connection": "web", "replace": "on"},
        form_page="/ui/connections/oauthco/web",
    )
    assert replace.status_code == 200 and "/oidc/auth?" in replace.text
    # An API-key provider is not logged in this way.
    refused = browser.post(
        "/ui/connections/login", {"provider": "openai"}, form_page="/ui/providers/oauthco"
    )
    assert refused.status_code == 400 and "API key" in refused.text
    oauth_env.assert_no_secrets_leaked()

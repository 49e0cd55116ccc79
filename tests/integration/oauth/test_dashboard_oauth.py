"""The dashboard's OAuth buttons against the real authorization server: refresh now, revoke."""

from __future__ import annotations

from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import OAuthEnv
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

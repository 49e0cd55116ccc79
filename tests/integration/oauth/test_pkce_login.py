"""Authorization code + PKCE end to end: CLI, daemon, real authorization server, callback."""

from __future__ import annotations

from tests.integration.oauth.conftest import OAuthEnv
from tests.support.oauth_server import GRANT_DEVICE


def test_pkce_login_through_the_callback_then_injection(oauth_env: OAuthEnv) -> None:
    result = oauth_env.pkce_login()
    assert "logged in to oauthco as connection 'default' (alice)" in result.out

    connection = oauth_env.connection("oauthco")
    assert connection is not None
    assert connection["auth_type"] == "oauth2"
    assert connection["status"] == "active"
    assert connection["expires_at"] is not None
    assert set(connection["scopes"]) == {"openid", "read"}  # as granted
    assert connection["account"]["sub"] == "alice"

    answer = oauth_env.call_api()
    assert answer["status"] == 200
    assert answer["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"

    exchanges = oauth_env.server.token_requests("authorization_code")
    assert [r["ok"] for r in exchanges] == [True]
    assert not oauth_env.server.token_requests(GRANT_DEVICE)
    events = oauth_env.audit_events()
    assert ("login", "success", "oauthco") in events
    assert ("client_registered", "success", "oauthco") in events
    oauth_env.assert_no_secrets_leaked()


def test_existing_connection_needs_force(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    again = oauth_env.cli("login", "oauthco", "--no-browser")
    assert again.code == 6
    assert "--force" in again.err
    replaced = oauth_env.pkce_login("oauthco", "--force", client=False)
    assert replaced.code == 0
    assert len(oauth_env.server.token_requests("authorization_code")) == 2

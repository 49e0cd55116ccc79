"""Revocation at logout (RFC 7009) and `authsome provider revoke`."""

from __future__ import annotations

from tests.integration.oauth.conftest import OAuthEnv


def test_logout_revokes_the_tokens_at_the_provider(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    access = oauth_env.server.issued("AccessToken")[-1]
    refresh = oauth_env.server.issued("RefreshToken")[-1]
    assert oauth_env.server.introspect(access)["active"] is True

    result = oauth_env.cli("logout", "oauthco")
    assert result.code == 0, result.err
    assert "revoked at the provider" in result.out
    assert oauth_env.server.introspect(access)["active"] is False
    assert oauth_env.server.introspect(refresh)["active"] is False
    assert oauth_env.connection("oauthco") is None
    assert ("token_revoked", "success", "oauthco") in oauth_env.audit_events()
    oauth_env.assert_no_secrets_leaked()


def test_logout_without_a_reachable_provider_still_removes(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    oauth_env.server.stop()
    result = oauth_env.cli("logout", "oauthco", "--json")
    assert result.code == 0, result.err
    assert result.json["revoked"] is False
    assert oauth_env.connection("oauthco") is None
    assert ("token_revoked", "failure", "oauthco") in oauth_env.audit_events()


def test_provider_revoke_removes_every_connection_and_client(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    oauth_env.pkce_login("oauthco", "--connection", "second", client=False)
    tokens = oauth_env.server.issued("AccessToken")[-2:]

    refused = oauth_env.cli("provider", "revoke", "oauthco")
    assert refused.code == 2  # no terminal to confirm, and no --yes
    result = oauth_env.cli("provider", "revoke", "oauthco", "--yes", "--json")
    assert result.code == 0, result.err
    assert result.json == {
        "provider": "oauthco",
        "connections": 2,
        "revoked": 2,
        "revocation_failures": 0,
        "clients": 1,
    }
    assert all(oauth_env.server.introspect(t)["active"] is False for t in tokens)
    assert oauth_env.connection("oauthco") is None
    with oauth_env.db() as db:
        assert db.execute("SELECT COUNT(*) FROM oauth_clients").fetchone() == (0,)
    assert ("provider_revoked", "success", "oauthco") in oauth_env.audit_events()

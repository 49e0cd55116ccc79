"""Rotating the master key keeps OAuth connections working: tokens (vault data keys) and
the client secret (the deployment's ``oauth`` data key) are re-wrapped, not re-sealed."""

from __future__ import annotations

from tests.integration.oauth.conftest import OAuthEnv


def test_refresh_with_the_client_secret_works_after_a_rotation(oauth_env: OAuthEnv) -> None:
    env = oauth_env
    env.pkce_login()
    assert env.call_api()["status"] == 200
    rotated = env.cli("vault", "rotate-key", "--json")
    assert rotated.code == 0, rotated.err
    refreshed = env.cli("refresh", "oauthco")
    assert refreshed.code == 0, refreshed.err
    assert env.server.token_requests("refresh_token")[-1]["ok"]
    assert env.call_api()["status"] == 200

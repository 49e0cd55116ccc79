"""What dynamic registration asked the server for, read from the server's own records."""

from __future__ import annotations

from tests.integration.oauth.conftest import OAuthEnv


def test_dcr_registers_a_native_public_client_with_the_loopback_redirect(
    oauth_env: OAuthEnv,
) -> None:
    oauth_env.pkce_login("oauthmcp", client=False)
    [client_id] = oauth_env.server.issued("Client")
    registered = oauth_env.server.registered_clients()[client_id]
    assert registered["token_endpoint_auth_method"] == "none"  # public: no secret to keep
    assert registered["application_type"] == "native"
    assert registered["redirect_uris"] == [f"{oauth_env.daemon.url}/auth/callback/oauth"]
    assert registered["grant_types"] == ["authorization_code", "refresh_token"]
    assert registered["response_types"] == ["code"]

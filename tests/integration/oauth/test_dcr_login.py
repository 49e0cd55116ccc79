"""Discovery and dynamic client registration, then PKCE with an RFC 8707 resource."""

from __future__ import annotations

from tests.integration.oauth.conftest import OAuthEnv


def test_dcr_login_discovers_registers_and_sends_the_resource(oauth_env: OAuthEnv) -> None:
    # oauthmcp names only its MCP URL: RFC 9728 metadata there names the path-suffixed
    # issuer (/oidc), whose RFC 8414 metadata names the registration endpoint.
    oauth_env.pkce_login("oauthmcp", client=False)
    registered = oauth_env.server.issued("Client")
    assert len(registered) == 1

    connection = oauth_env.connection("oauthmcp")
    assert connection is not None and connection["status"] == "active"
    token = oauth_env.server.issued("AccessToken")[-1]
    details = oauth_env.server.introspect(token)
    assert details["active"] is True
    assert details["client_id"] == registered[0]
    assert details["aud"] == oauth_env.server.mcp_resource  # the resource was sent

    answer = oauth_env.call_api("mcp.oauthco.test")
    assert answer["status"] == 200 and answer["authorization"] == f"Bearer {token}"

    # A second login reuses the registered client instead of registering again.
    oauth_env.pkce_login("oauthmcp", "--force", client=False)
    assert len(oauth_env.server.issued("Client")) == 1
    oauth_env.assert_no_secrets_leaked()

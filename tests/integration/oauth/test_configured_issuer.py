"""RFC 9207 with a configured `oauth.issuer`: the whole issuer is compared, not its origin."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.integration.oauth.conftest import OAuthEnv
from tests.support import store
from tests.support.oauth_server import STATIC_CLIENT

AUTH_URL = r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)"


def _with_issuer(env: OAuthEnv, name: str, issuer: str, flow: str = "pkce") -> dict[str, Any]:
    server = env.server.issuer
    oauth: dict[str, Any] = {"issuer": issuer, "scopes": ["openid", "offline_access", "read"]}
    if flow == "pkce":
        oauth |= {"authorization_url": f"{server}/auth", "token_url": f"{server}/token"}
    else:
        oauth["base_url"] = env.server.mcp_resource
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": name,
        "auth_type": "oauth2",
        "flow": flow,
        "api_url": [f"{name}.oauthco.test"],
        "oauth": oauth,
    }
    with env.api() as api:
        api.register_provider(definition)
    return definition


def test_same_origin_other_path_iss_is_refused(oauth_env: OAuthEnv) -> None:
    _with_issuer(oauth_env, "issuerco", oauth_env.server.issuer)
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login("issuerco", "--no-browser", "--client-stdin", stdin=stdin)
    url = login.wait_for(AUTH_URL).group(1)
    state = parse_qs(urlsplit(url).query)["state"][0]
    # Another issuer on the same host and port: an origin comparison would let it pass.
    other = f"{oauth_env.server.origin}/another-tenant"
    params = urlencode({"code": "some-code", "state": state, "iss": other})
    page = httpx.get(f"{oauth_env.daemon.url}/auth/callback/oauth?{params}", timeout=15)
    assert page.status_code == 400 and "RFC 9207" in page.text

    result = oauth_env.finish(login)
    assert result.code == 2
    assert f"issuer '{other}', not from {oauth_env.server.issuer}" in result.err
    assert oauth_env.server.token_requests("authorization_code") == []  # the code was not sent
    assert oauth_env.connection("issuerco") is None
    assert store.scalar(oauth_env.daemon.home, "SELECT status FROM auth_sessions") == "failed"


def test_the_servers_own_iss_matches_the_configured_issuer(oauth_env: OAuthEnv) -> None:
    _with_issuer(oauth_env, "issuerco", oauth_env.server.issuer)
    oauth_env.pkce_login("issuerco")
    connection = oauth_env.connection("issuerco")
    assert connection is not None and connection["status"] == "active"


def test_discovered_metadata_must_name_the_configured_issuer(oauth_env: OAuthEnv) -> None:
    wrong = f"{oauth_env.server.origin}/not-this-issuer"
    _with_issuer(oauth_env, "issuermcp", wrong, flow="dcr_pkce")
    refused = oauth_env.cli("login", "issuermcp", "--no-browser")
    assert refused.code == 2
    assert f"names issuer {oauth_env.server.issuer}, not {wrong}" in refused.err
    assert oauth_env.server.issued("Client") == []  # refused before registering a client

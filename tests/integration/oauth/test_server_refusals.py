"""Refusals produced by the real server: the user cancels at its login page, its token
endpoint refuses a code. Each ends the login with a clear message, exit 2, nothing stored."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from tests.integration.oauth.conftest import LoginProcess, OAuthEnv
from tests.support import store
from tests.support.oauth_server import STATIC_CLIENT

AUTH_URL = r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)"


def _start(env: OAuthEnv) -> tuple[LoginProcess, str]:
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = env.start_login("oauthco", "--no-browser", "--client-stdin", stdin=stdin)
    return login, login.wait_for(AUTH_URL).group(1)


def _cancel_at_the_login_page(url: str) -> httpx.Response:
    """Open the server's login page and follow its own "[ Cancel ]" link to the end."""
    with httpx.Client(timeout=15, trust_env=False, follow_redirects=True) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and "/interaction/" in str(page.url), page.text
        link = re.search(r'<a href="([^"]+/abort)">\[ Cancel \]</a>', page.text)
        assert link is not None, page.text
        return browser.get(urljoin(str(page.url), link.group(1)))


def _assert_nothing_stored(env: OAuthEnv) -> None:
    assert env.connection("oauthco") is None
    rows = store.rows(env.daemon.home, "SELECT status, sealed_verifier FROM auth_sessions")
    assert [tuple(row) for row in rows] == [("failed", None)]
    assert store.scalar(env.daemon.home, "SELECT count(*) FROM oauth_grants") == 0


def test_cancelling_at_the_servers_login_page_ends_the_login(oauth_env: OAuthEnv) -> None:
    login, url = _start(oauth_env)
    landed = _cancel_at_the_login_page(url)

    # The server's own redirect brought error=access_denied to the daemon's callback.
    assert urlsplit(str(landed.url)).path == "/auth/callback/oauth"
    query = parse_qs(urlsplit(str(landed.url)).query)
    assert query["error"] == ["access_denied"] and query["iss"] == [oauth_env.server.issuer]
    assert landed.status_code == 400 and "access_denied" in landed.text

    result = oauth_env.finish(login)
    assert result.code == 2
    assert (
        "the authorization server refused the login: access_denied "
        "(End-User aborted interaction)" in result.err
    )
    assert oauth_env.server.token_requests() == []  # no code, so no exchange
    _assert_nothing_stored(oauth_env)


def test_a_code_the_token_endpoint_refuses_ends_the_login(oauth_env: OAuthEnv) -> None:
    login, url = _start(oauth_env)
    state = parse_qs(urlsplit(url).query)["state"][0]
    params = {"code": "not-a-code-this-server-issued", "state": state}
    params["iss"] = oauth_env.server.issuer
    page = httpx.get(f"{oauth_env.daemon.url}/auth/callback/oauth?{urlencode(params)}", timeout=15)
    assert page.status_code == 400 and "invalid_grant" in page.text

    result = oauth_env.finish(login)
    assert result.code == 2
    token_url = f"{oauth_env.server.issuer}/token"
    assert f"{token_url} refused the authorization code: invalid_grant" in result.err
    exchanges = oauth_env.server.token_requests("authorization_code")
    assert [(r["ok"], r["error"]) for r in exchanges] == [(False, "invalid_grant")]
    _assert_nothing_stored(oauth_env)

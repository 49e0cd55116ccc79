"""Authorization code + PKCE end to end: CLI, daemon, real authorization server, callback."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.integration.oauth.conftest import OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import GRANT_DEVICE, STATIC_CLIENT


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


def test_login_opens_the_browser_and_prints_the_url(oauth_env: OAuthEnv, tmp_path: Path) -> None:
    """With a display, `authsome login` opens the URL (here: a BROWSER that writes it down)."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> {opened}\n')
    browser.chmod(0o700)
    env = {**oauth_env.daemon.env, "DISPLAY": ":0", "BROWSER": f"{browser} %s"}
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login("oauthco", "--client-stdin", stdin=stdin, env=env)
    printed = login.wait_for(r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)").group(1)
    login.wait_for(r"opened in your browser")
    assert opened.read_text().split() == [printed]
    query = parse_qs(urlsplit(printed).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{oauth_env.daemon.url}/auth/callback/oauth"]
    with ScriptedBrowser() as scripted:
        scripted.open(printed)
    result = oauth_env.finish(login)
    assert result.code == 0, result.err
    assert not oauth_env.server.token_requests(GRANT_DEVICE)  # a display: no device flow


def test_no_browser_prints_the_url_without_opening_it(oauth_env: OAuthEnv, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    env = {**oauth_env.daemon.env, "DISPLAY": ":0", "BROWSER": f"touch {opened}"}
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login("oauthco", "--no-browser", "--client-stdin", stdin=stdin, env=env)
    url = login.wait_for(r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)").group(1)
    with ScriptedBrowser() as scripted:
        scripted.open(url)
    result = oauth_env.finish(login)
    assert result.code == 0, result.err
    assert not opened.exists() and "opened in your browser" not in result.err

"""The callback refuses what it must: wrong state, replays, expired logins, server errors."""

from __future__ import annotations

import signal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.integration.oauth.conftest import LoginProcess, OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import STATIC_CLIENT
from tests.support.tty_process import TtyProcess

AUTH_URL = r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)"


def _start(env: OAuthEnv) -> tuple[LoginProcess, str, str]:
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = env.start_login("oauthco", "--no-browser", "--client-stdin", stdin=stdin)
    url = login.wait_for(AUTH_URL).group(1)
    state = parse_qs(urlsplit(url).query)["state"][0]
    return login, url, state


def _callback(env: OAuthEnv, **params: str) -> httpx.Response:
    return httpx.get(f"{env.daemon.url}/auth/callback/oauth?{urlencode(params)}", timeout=10)


def _nothing_stored(env: OAuthEnv) -> None:
    assert env.connection("oauthco") is None
    assert not env.server.token_requests("authorization_code")


def test_wrong_state_is_refused_and_the_real_login_still_works(oauth_env: OAuthEnv) -> None:
    login, url, _state = _start(oauth_env)
    page = _callback(oauth_env, code="forged-code", state="not-the-state")
    assert page.status_code == 400
    assert "state does not match" in page.text and "nothing was stored" in page.text
    _nothing_stored(oauth_env)
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    with ScriptedBrowser() as browser:
        browser.open(url)
    assert oauth_env.finish(login).code == 0


def test_error_from_the_server_ends_the_login_with_its_message(oauth_env: OAuthEnv) -> None:
    login, _url, state = _start(oauth_env)
    page = _callback(
        oauth_env,
        error="access_denied",
        error_description="the user said no",
        state=state,
        iss=oauth_env.server.issuer,
    )
    assert page.status_code == 400 and "access_denied" in page.text
    result = oauth_env.finish(login)
    assert result.code == 2
    assert "access_denied (the user said no)" in result.err
    _nothing_stored(oauth_env)
    assert ("login", "failure", "oauthco") in oauth_env.audit_events()  # a failed login


def test_wrong_issuer_is_refused(oauth_env: OAuthEnv) -> None:
    login, _url, state = _start(oauth_env)
    page = _callback(oauth_env, code="x", state=state, iss="http://127.0.0.1:1/evil")
    assert page.status_code == 400 and "RFC 9207" in page.text
    assert oauth_env.finish(login).code == 2
    _nothing_stored(oauth_env)


def test_replayed_callback_is_refused(oauth_env: OAuthEnv) -> None:
    login, url, _state = _start(oauth_env)
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert oauth_env.finish(login).code == 0
    callback_url = page.visited[-1].removeprefix("GET ")
    assert "/auth/callback/oauth?" in callback_url

    replay = httpx.get(callback_url, timeout=10)
    assert replay.status_code == 400 and "already used" in replay.text
    assert len(oauth_env.server.token_requests("authorization_code")) == 1


def test_callback_for_an_expired_login_is_refused(oauth_env: OAuthEnv) -> None:
    login, url, _state = _start(oauth_env)
    with oauth_env.db() as db:  # ten minutes pass
        db.execute("UPDATE auth_sessions SET expires_at = '2000-01-01 00:00:00'")
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert page.final.status_code == 400
    assert "expired" in page.final.text
    result = oauth_env.finish(login)
    assert result.code == 2 and "expired" in result.err
    _nothing_stored(oauth_env)
    with oauth_env.db() as db:
        rows = db.execute("SELECT status, sealed_verifier FROM auth_sessions").fetchall()
    assert rows == [("expired", None)]  # the verifier is erased


def test_ctrl_c_cancels_the_login_in_the_daemon(oauth_env: OAuthEnv) -> None:
    login, url, _state = _start(oauth_env)
    login.process.send_signal(signal.SIGINT)
    result = oauth_env.finish(login)
    assert result.code == 2
    with oauth_env.db() as db:
        assert db.execute("SELECT status FROM auth_sessions").fetchall() == [("cancelled",)]
    with ScriptedBrowser() as browser:
        page = browser.open(url)
    assert page.final.status_code == 400 and "cancelled" in page.final.text
    _nothing_stored(oauth_env)


def test_ctrl_c_at_the_client_prompt_cancels_the_login_in_the_daemon(
    oauth_env: OAuthEnv,
) -> None:
    # No OAuth client yet: the daemon's session waits (needs_client) while the CLI asks.
    with TtyProcess(["login", "oauthco", "--no-browser"], oauth_env.daemon.env) as login:
        login.wait_for(r"OAuth Co client id: ")
        with oauth_env.db() as db:
            assert db.execute("SELECT status FROM auth_sessions").fetchall() == [("needs_client",)]
        login.interrupt()
        assert login.finish() == 2, login.tty
    assert "cancelled" in login.tty
    with oauth_env.db() as db:
        assert db.execute("SELECT status FROM auth_sessions").fetchall() == [("cancelled",)]
    assert oauth_env.connection("oauthco") is None

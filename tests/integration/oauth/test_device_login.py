"""Device authorization (RFC 8628) end to end, chosen explicitly and automatically."""

from __future__ import annotations

import time

from tests.integration.oauth.conftest import LoginProcess, OAuthEnv
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE, STATIC_CLIENT

CODE = r"enter the code: (\S+)"


def _approve(env: OAuthEnv, login: LoginProcess, *, complete: bool = True) -> str:
    user_code = login.wait_for(CODE).group(1)
    where = login.wait_for(r"\(or open (\S+)\)").group(1)
    assert where.startswith(env.server.issuer + "/device")
    with ScriptedBrowser() as browser:
        page = browser.open(where, user_code=user_code)
    assert "Sign-in Success" in page.final.text or not complete, page.final.text
    return user_code


def test_device_login_end_to_end(oauth_env: OAuthEnv) -> None:
    login = oauth_env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    _approve(oauth_env, login)
    result = oauth_env.finish(login)
    assert result.code == 0, result.err
    assert "logged in to oauthdev" in result.out

    polls = oauth_env.server.token_requests(GRANT_DEVICE)
    assert polls[-1]["ok"] is True
    assert all(p["error"] in (None, "authorization_pending") for p in polls)
    connection = oauth_env.connection("oauthdev")
    assert connection is not None and connection["auth_type"] == "oauth2"
    answer = oauth_env.call_api("dev.oauthco.test")
    assert answer["status"] == 200
    assert answer["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"
    oauth_env.assert_no_secrets_leaked()


def test_no_browser_here_switches_a_browser_provider_to_the_device_flow(
    oauth_env: OAuthEnv,
) -> None:
    # No DISPLAY in the test environment: `authsome login` cannot open a browser.
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login("oauthco", "--client-stdin", stdin=stdin)
    _approve(oauth_env, login)
    result = oauth_env.finish(login)
    assert result.code == 0, result.err
    assert oauth_env.server.token_requests(GRANT_DEVICE)[-1]["ok"] is True
    assert not oauth_env.server.token_requests("authorization_code")


def test_refused_device_login_ends_with_a_clear_message(oauth_env: OAuthEnv) -> None:
    login = oauth_env.start_login(
        "oauthdev", "--flow", "device_code", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n"
    )
    user_code = login.wait_for(CODE).group(1)
    oauth_env.server.deny_device(user_code)
    result = oauth_env.finish(login)
    assert result.code == 2
    assert "refused" in result.err
    assert oauth_env.connection("oauthdev") is None


def test_slow_down_adds_five_seconds(oauth_env: OAuthEnv) -> None:
    login = oauth_env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    login.wait_for(CODE)
    oauth_env.server.outage(1, "slow_down")
    # The next poll answers slow_down; the one after must wait interval + 5 s.
    deadline = time.monotonic() + 10
    while not any(r["error"] == "outage-slow_down" for r in oauth_env.server.token_requests()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    slowed_at = time.monotonic()
    count = len(oauth_env.server.token_requests(GRANT_DEVICE))
    while len(oauth_env.server.token_requests(GRANT_DEVICE)) == count:
        assert time.monotonic() - slowed_at < 15
        time.sleep(0.1)
    assert time.monotonic() - slowed_at >= 5.5  # interval 1 s + 5 s
    login.process.terminate()
    login.finish()

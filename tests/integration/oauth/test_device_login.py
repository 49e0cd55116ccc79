"""Device authorization (RFC 8628) end to end, chosen explicitly and automatically."""

from __future__ import annotations

import itertools
import re
import signal
import time
from datetime import UTC, datetime

import pytest

from tests.integration.oauth.conftest import LoginProcess, OAuthEnv
from tests.support import store
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE, STATIC_CLIENT
from tests.support.tty_process import TtyProcess

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
    user_code = _approve(oauth_env, login)
    result = oauth_env.finish(login)
    assert result.code == 0, result.err
    assert "logged in to oauthdev" in result.out
    # The plain address to type in, with the code; the complete link is only a shortcut.
    plain = f"open {oauth_env.server.issuer}/device\n  and enter the code: {user_code}\n"
    assert plain in result.err

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
    # An SSH session without a display: `authsome login` cannot open a browser.
    env = {k: v for k, v in oauth_env.daemon.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(SSH_CONNECTION="10.0.0.2 50000 10.0.0.1 22", BROWSER="true")
    stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n"
    login = oauth_env.start_login("oauthco", "--client-stdin", stdin=stdin, env=env)
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


@pytest.mark.device(interval=3)
def test_polls_keep_the_interval_the_server_asked_for(oauth_env: OAuthEnv) -> None:
    # The CLI asks the daemon every second; the daemon polls the server every 3 s.
    login = oauth_env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    login.wait_for(CODE)
    deadline = time.monotonic() + 40
    while len(oauth_env.server.token_requests(GRANT_DEVICE)) < 3:
        assert time.monotonic() < deadline, "the daemon stopped polling"
        time.sleep(0.2)
    login.process.send_signal(signal.SIGINT)
    oauth_env.finish(login)
    times = [r["at"] / 1000 for r in oauth_env.server.token_requests(GRANT_DEVICE)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 2.9 for gap in gaps), gaps
    assert all(r["error"] == "authorization_pending" for r in oauth_env.server.token_requests())


@pytest.mark.device(ttl=4)
def test_an_unapproved_device_login_ends_when_the_server_says(oauth_env: OAuthEnv) -> None:
    started = time.monotonic()
    login = oauth_env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    login.wait_for(CODE)
    result = oauth_env.finish(login)
    assert result.code == 2
    assert "expired" in result.err
    assert time.monotonic() - started < 60  # expires_in (4 s), not the 10 minutes of a session
    assert oauth_env.connection("oauthdev") is None


@pytest.mark.device(ttl=1800)
def test_a_device_login_may_outlast_ten_minutes_when_the_server_allows(
    oauth_env: OAuthEnv,
) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthdev")
        assert started["status"] == "needs_client"
        pending = api.give_oauth_client(started["id"], DEVICE_CLIENT, None)
        assert pending["status"] == "pending" and pending["user_code"]
        expires = datetime.fromisoformat(pending["expires_at"].replace("Z", "+00:00"))
        left = (expires - datetime.now(UTC)).total_seconds()
        assert 1700 < left <= 1800  # the server's expires_in, not a fixed cap
        api.cancel_oauth_login(started["id"])


def _device_polls(env: OAuthEnv) -> int:
    return len(env.server.token_requests(GRANT_DEVICE))


def test_ctrl_c_during_a_device_login_on_a_terminal_stops_the_polling(
    oauth_env: OAuthEnv,
) -> None:
    with TtyProcess(["login", "oauthdev", "--flow", "device_code"], oauth_env.daemon.env) as login:
        login.answer("OAuth Devices client id: ", f"{DEVICE_CLIENT}\r")
        login.answer("client secret (empty for a public client): ", "\r")
        shown = login.wait_for(r"open (\S+)\r?\n  and enter the code: (\S+)")
        assert shown.group(1) == f"{oauth_env.server.issuer}/device"
        login.wait_for(
            re.escape("waiting for you to approve the code at OAuth Devices (Ctrl-C to cancel)")
        )
        deadline = time.monotonic() + 20
        while _device_polls(oauth_env) < 2:  # the daemon is polling the server
            assert time.monotonic() < deadline, "the daemon never polled"
            time.sleep(0.1)
        login.interrupt()
        assert login.finish() == 2, login.tty
    assert "cancelled" in login.tty
    [(status, sealed)] = store.rows(
        oauth_env.daemon.home, "SELECT status, sealed_device_code FROM auth_sessions"
    )
    assert (status, sealed) == ("cancelled", None)
    time.sleep(0.5)  # a poll already on its way when the login was cancelled
    polls = _device_polls(oauth_env)
    time.sleep(3)  # three of the server's 1 s intervals
    assert _device_polls(oauth_env) == polls, "the daemon kept polling a cancelled login"
    assert oauth_env.connection("oauthdev") is None

"""The daemon advances a device login by itself: no client has to ask for its status."""

from __future__ import annotations

import time

import pytest

from tests.integration.oauth.conftest import OAuthEnv
from tests.support import store
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE


def _wait_for_connection(env: OAuthEnv, provider: str, timeout: float = 20) -> None:
    """Reads the connection list only: GET /auth/sessions/{id} is never called."""
    deadline = time.monotonic() + timeout
    while env.connection(provider) is None:
        assert time.monotonic() < deadline, "nothing polled the authorization server"
        time.sleep(0.3)


def test_an_approved_device_login_completes_without_anyone_polling(oauth_env: OAuthEnv) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthdev")
        pending = api.give_oauth_client(started["id"], DEVICE_CLIENT, None)
    assert pending["status"] == "pending" and pending["verification_uri_complete"]

    with ScriptedBrowser() as browser:
        page = browser.open(pending["verification_uri_complete"], user_code=pending["user_code"])
    assert "Sign-in Success" in page.final.text, page.final.text

    _wait_for_connection(oauth_env, "oauthdev")
    polls = oauth_env.server.token_requests(GRANT_DEVICE)
    assert polls and polls[-1]["ok"] is True
    rows = store.rows(oauth_env.daemon.home, "SELECT status, sealed_device_code FROM auth_sessions")
    assert [tuple(row) for row in rows] == [("complete", None)]  # the device code is erased
    answer = oauth_env.call_api("dev.oauthco.test")
    assert answer["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"


@pytest.mark.device(ttl=3)
def test_an_abandoned_device_login_is_ended_when_it_expires(oauth_env: OAuthEnv) -> None:
    with oauth_env.api() as api:
        started = api.start_oauth_login("oauthdev")
        api.give_oauth_client(started["id"], DEVICE_CLIENT, None)
    home = oauth_env.daemon.home
    deadline = time.monotonic() + 20
    # Ended by the daemon's clock ("expired") or by the server's expired_token ("failed").
    while store.scalar(home, "SELECT status FROM auth_sessions") == "pending":
        assert time.monotonic() < deadline, "the expired device login was left pending"
        time.sleep(0.3)
    [(status, sealed, message)] = store.rows(
        home, "SELECT status, sealed_device_code, message FROM auth_sessions"
    )
    assert status in ("expired", "failed") and sealed is None and "expired" in message
    assert oauth_env.connection("oauthdev") is None

"""A token endpoint that never answers during a refresh: the daemon gives up after its
outbound timeout (``AUTHSOME_OUTBOUND_TIMEOUT``), retries with the same refresh token,
and the connection never becomes needs_login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.oauth.conftest import OAuthEnv, open_env, wait_until_expired
from tests.support import store
from tests.support.oauth_server import OAuthServer

pytestmark = pytest.mark.access_ttl(4)

TIMEOUT = 1.5  # seconds the daemon waits for the authorization server (default 15)


@pytest.fixture
def impatient_env(tmp_path: Path, oauth_server: OAuthServer) -> Iterator[OAuthEnv]:
    """``oauth_env``, with a daemon whose outbound timeout is ``TIMEOUT``."""
    timeout = {"AUTHSOME_OUTBOUND_TIMEOUT": str(TIMEOUT)}
    yield from open_env(tmp_path, oauth_server, daemon_env=timeout)


def _logged_in_and_expired(env: OAuthEnv) -> None:
    env.pkce_login()
    connection = env.connection("oauthco")
    assert connection is not None and connection["expires_at"]
    wait_until_expired(str(connection["expires_at"]))


def test_one_hanging_refresh_is_retried_with_the_same_refresh_token(
    impatient_env: OAuthEnv,
) -> None:
    _logged_in_and_expired(impatient_env)
    impatient_env.server.outage(1, "hang")
    answer = impatient_env.call_api()
    assert answer["status"] == 200, answer

    attempts = impatient_env.server.token_requests("refresh_token")
    assert [a["error"] for a in attempts] == ["outage-hang", None]
    assert len({a["rt"] for a in attempts}) == 1  # the same refresh token again
    waited = (attempts[1]["at"] - attempts[0]["at"]) / 1000
    assert TIMEOUT <= waited < TIMEOUT + 5, waited  # given up after the configured timeout
    newest = impatient_env.server.issued("AccessToken")[-1]
    assert answer["authorization"] == f"Bearer {newest}"
    connection = impatient_env.connection("oauthco")
    assert connection is not None and connection["status"] == "active"


def test_a_server_that_keeps_hanging_leaves_the_connection_for_later(
    impatient_env: OAuthEnv,
) -> None:
    _logged_in_and_expired(impatient_env)
    impatient_env.server.outage(100, "hang")
    failed = impatient_env.cli("refresh", "oauthco")
    assert failed.code == 8, failed.err  # endpoint unreachable, not "log in again"
    assert "did not answer in time" in failed.err
    connection = impatient_env.connection("oauthco")
    assert connection is not None and connection["status"] == "active"
    reasons = store.rows(
        impatient_env.daemon.home,
        "SELECT detail FROM audit_events WHERE event = 'refresh_failed'",
    )
    assert {json.loads(row[0])["reason"] for row in reasons} == {"unreachable"}  # not refused

    impatient_env.server.outage(0)
    refreshed = impatient_env.cli("refresh", "oauthco")
    assert refreshed.code == 0, refreshed.err
    attempts = impatient_env.server.token_requests("refresh_token")
    assert len(attempts) >= 2 and attempts[-1]["ok"] is True
    assert {a["error"] for a in attempts[:-1]} == {"outage-hang"}
    assert len({a["rt"] for a in attempts}) == 1  # kept through the outage

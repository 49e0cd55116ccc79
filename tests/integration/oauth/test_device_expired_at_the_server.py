"""The server answers `expired_token` while the daemon would still wait (RFC 8628 §3.5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.oauth.conftest import OAuthEnv, open_env
from tests.support import store
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE, OAuthServer

ANNOUNCED = 120  # expires_in the device authorization response says
REAL = 3  # how long the server really keeps the device code


@pytest.fixture
def short_codes_env(tmp_path: Path) -> Iterator[OAuthEnv]:
    with OAuthServer(access_ttl=300, device_ttl=REAL, device_expires_in=ANNOUNCED) as server:
        yield from open_env(tmp_path, server)


def test_expired_token_from_the_server_ends_the_login(short_codes_env: OAuthEnv) -> None:
    env = short_codes_env
    started = time.monotonic()
    login = env.start_login("oauthdev", "--client-stdin", stdin=f"{DEVICE_CLIENT}\n\n")
    login.wait_for(r"enter the code: (\S+)")
    result = env.finish(login)
    elapsed = time.monotonic() - started

    assert result.code == 2
    assert "the device code expired before the login was approved" in result.err
    assert elapsed < ANNOUNCED / 2  # ended by the server's answer, not the daemon's clock
    polls = env.server.token_requests(GRANT_DEVICE)
    assert polls[-1]["error"] == "expired_token"
    assert {p["error"] for p in polls[:-1]} == {"authorization_pending"}
    assert env.connection("oauthdev") is None
    [(status, sealed)] = store.rows(
        env.daemon.home, "SELECT status, sealed_device_code FROM auth_sessions"
    )
    assert status == "failed" and sealed is None

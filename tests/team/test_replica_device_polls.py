"""Both replicas advance device logins, and the server still sees one poll per interval."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import DEVICE_CLIENT, GRANT_DEVICE, OAuthServer
from tests.team.test_replicas import Team, _oauth_team

INTERVAL = 3


@pytest.fixture
def device_team(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Team, OAuthServer]]:
    yield from _oauth_team(tmp_path, postgres_url, device_interval=INTERVAL)


def test_two_replicas_take_turns_polling_a_device_login(
    device_team: tuple[Team, OAuthServer],
) -> None:
    team, server = device_team
    with team.client() as api:  # nobody asks for the login's status after this
        started = api.start_oauth_login("oauthdev")
        pending = api.give_oauth_client(started["id"], DEVICE_CLIENT, None)
    deadline = time.monotonic() + 40
    while len(server.token_requests(GRANT_DEVICE)) < 4:
        assert time.monotonic() < deadline, "no replica polled the device login"
        time.sleep(0.2)
    times = [r["at"] / 1000 for r in server.token_requests(GRANT_DEVICE)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= INTERVAL - 0.1 for gap in gaps), gaps  # never two polls in one turn

    with ScriptedBrowser() as browser:
        browser.open(pending["verification_uri_complete"], user_code=pending["user_code"])
    deadline = time.monotonic() + 20
    while team.sql("SELECT status FROM auth_sessions") != [("complete",)]:
        assert time.monotonic() < deadline, "the approved login did not complete"
        time.sleep(0.3)
    assert [r["ok"] for r in server.token_requests(GRANT_DEVICE)][-1] is True
    assert len(team.sql("SELECT id FROM connections WHERE provider = 'oauthdev'")) == 1

"""A token endpoint that cannot be reached: each back-off step of the refresh
is audited once as ``refresh_failed`` (reason ``unreachable``), however many
requests wait on it, and the connection stays usable for later."""

from __future__ import annotations

import json
import time

import pytest

from authsome.errors import AuthsomeError
from tests.integration.oauth.conftest import OAuthEnv, wait_until_expired
from tests.support import store

pytestmark = pytest.mark.access_ttl(4)

API = "https://api.oauthco.test/v1/me"


def _unreachable_events(env: OAuthEnv) -> list[tuple[str, str, dict[str, object]]]:
    rows = store.rows(
        env.daemon.home,
        "SELECT outcome, provider, connection, detail FROM audit_events "
        "WHERE event = 'refresh_failed' ORDER BY id",
    )
    return [
        (outcome, f"{provider}/{name}", json.loads(detail))
        for outcome, provider, name, detail in rows
    ]


def _resolve_refused(env: OAuthEnv) -> str:
    with env.api() as api, pytest.raises(AuthsomeError) as refused:
        api.resolve(API)
    assert refused.value.exit_code == 8  # endpoint unreachable
    return refused.value.message


def test_each_back_off_step_is_audited_once(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    connection = oauth_env.connection("oauthco")
    assert connection is not None
    wait_until_expired(str(connection["expires_at"]))
    oauth_env.server.outage(1000, "drop")  # every token request loses its connection

    # Five requests at once share one attempt (three tries), so one event.
    answers = oauth_env.burst(5)
    assert [a["status"] for a in answers] == [503] * 5
    assert all("could not be refreshed" in str(a["text"]) for a in answers)
    tries = len(oauth_env.server.token_requests("refresh_token"))
    assert tries == 3
    first = _unreachable_events(oauth_env)
    assert first == [
        ("failure", "oauthco/default", {"reason": "unreachable", "failures": 1, "retry_in": 5.0})
    ]
    # Inside the back-off step: refused without trying again, and no new event.
    assert "tries again in" in _resolve_refused(oauth_env)
    assert len(oauth_env.server.token_requests("refresh_token")) == tries
    assert _unreachable_events(oauth_env) == first

    time.sleep(5.5)  # the next step: one more attempt, one more event, a longer wait
    _resolve_refused(oauth_env)
    assert len(oauth_env.server.token_requests("refresh_token")) == 2 * tries
    events = _unreachable_events(oauth_env)
    assert events[1:] == [
        ("failure", "oauthco/default", {"reason": "unreachable", "failures": 2, "retry_in": 10.0})
    ]
    connection = oauth_env.connection("oauthco")
    assert connection is not None and connection["status"] == "active"  # not needs_login

    oauth_env.server.outage(0)
    refreshed = oauth_env.cli("refresh", "oauthco")
    assert refreshed.code == 0, refreshed.err
    assert len(_unreachable_events(oauth_env)) == 2
    assert oauth_env.daemon.cli("log", "--verify").code == 0
    oauth_env.assert_no_secrets_leaked()

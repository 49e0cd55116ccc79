"""Refresh: after expiry, single flight under load, background, invalid_grant, outages."""

from __future__ import annotations

import time

import pytest

from tests.integration.oauth.conftest import OAuthEnv, wait_until_expired

pytestmark = pytest.mark.access_ttl(4)


def _expires_at(env: OAuthEnv) -> str:
    connection = env.connection("oauthco")
    assert connection is not None and connection["expires_at"]
    return str(connection["expires_at"])


def test_expired_token_is_refreshed_before_the_request(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    first = oauth_env.server.issued("AccessToken")[-1]
    wait_until_expired(_expires_at(oauth_env))
    answer = oauth_env.call_api()
    assert answer["status"] == 200
    newest = oauth_env.server.issued("AccessToken")[-1]
    assert newest != first
    assert answer["authorization"] == f"Bearer {newest}"
    refreshes = oauth_env.server.token_requests("refresh_token")
    assert [r["ok"] for r in refreshes] == [True]
    assert ("refresh", "success", "oauthco") in oauth_env.audit_events()
    oauth_env.assert_no_secrets_leaked()


def test_fifty_concurrent_requests_after_expiry_cause_one_refresh(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    wait_until_expired(_expires_at(oauth_env))
    answers = oauth_env.burst(50)
    refreshes = oauth_env.server.token_requests("refresh_token")
    # Counted at the server. This server revokes the whole grant when a rotated
    # refresh token is used twice, so a second refresh would also fail requests.
    assert len(refreshes) == 1 and refreshes[0]["ok"]
    newest = oauth_env.server.issued("AccessToken")[-1]
    assert [a["status"] for a in answers] == [200] * 50
    assert {a["authorization"] for a in answers} == {f"Bearer {newest}"}
    # The grant survived (a reused rotated refresh token would have revoked it). The
    # refresh token is asked, not the access token, which may expire meanwhile (4 s).
    assert oauth_env.server.introspect(oauth_env.server.issued("RefreshToken")[-1])["active"]


def test_connections_in_use_are_refreshed_in_the_background(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    assert oauth_env.call_api()["status"] == 200  # now in use
    before = len(oauth_env.server.token_requests("refresh_token"))
    time.sleep(9)  # two lifetimes, no requests
    refreshes = oauth_env.server.token_requests("refresh_token")[before:]
    assert len(refreshes) >= 2 and all(r["ok"] for r in refreshes)
    # The refreshed token was ready before anyone asked: no refresh on this request.
    count = len(oauth_env.server.token_requests("refresh_token"))
    issued_before = len(oauth_env.server.issued("AccessToken"))
    answer = oauth_env.call_api()
    # The newest token when the request was made, or one the background refresh
    # issued while `authsome run` started (a token lives 4 s here).
    current = oauth_env.server.issued("AccessToken")[issued_before - 1 :]
    assert answer["authorization"] in {f"Bearer {token}" for token in current}
    assert len(oauth_env.server.token_requests("refresh_token")) <= count + 1


def test_invalid_grant_marks_the_connection_needs_login(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    oauth_env.server.forget_grants()
    wait_until_expired(_expires_at(oauth_env))
    refused = oauth_env.cli("refresh", "oauthco")
    assert refused.code == 5
    assert "invalid_grant" in refused.err
    assert "authsome login oauthco --connection default --force" in refused.err
    connection = oauth_env.connection("oauthco")
    assert connection is not None and connection["status"] == "needs_login"
    assert ("refresh_failed", "failure", "oauthco") in oauth_env.audit_events()

    answer = oauth_env.call_api()
    assert answer["status"] == 403
    assert "needs a new login" in answer["text"] and "authsome login oauthco" in answer["text"]
    # A new login replaces the dead connection without --force.
    oauth_env.pkce_login(client=False)
    assert oauth_env.call_api()["status"] == 200
    oauth_env.assert_no_secrets_leaked()


def test_server_down_during_refresh_is_retried_with_the_same_refresh_token(
    oauth_env: OAuthEnv,
) -> None:
    oauth_env.pkce_login()
    wait_until_expired(_expires_at(oauth_env))
    oauth_env.server.outage(2, "drop")  # the next two token requests lose their connection
    answer = oauth_env.call_api()
    assert answer["status"] == 200
    attempts = oauth_env.server.token_requests("refresh_token")
    assert [a["error"] for a in attempts] == ["outage-drop", "outage-drop", None]
    assert len({a["rt"] for a in attempts}) == 1  # the same refresh token each time
    assert answer["authorization"] == f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"


def test_long_outage_keeps_the_refresh_token_for_later(oauth_env: OAuthEnv) -> None:
    oauth_env.pkce_login()
    wait_until_expired(_expires_at(oauth_env))
    oauth_env.server.outage(100, "503")
    failed = oauth_env.cli("refresh", "oauthco")
    assert failed.code == 8
    connection = oauth_env.connection("oauthco")
    assert connection is not None and connection["status"] == "active"
    blocked = oauth_env.call_api()
    assert blocked["status"] == 503 and "could not be refreshed" in blocked["text"]

    oauth_env.server.outage(0)
    refreshed = oauth_env.cli("refresh", "oauthco")
    assert refreshed.code == 0, refreshed.err
    attempts = oauth_env.server.token_requests("refresh_token")
    assert attempts[-1]["ok"] is True
    assert len({a["rt"] for a in attempts}) == 1  # never dropped, never replaced


def test_library_resolves_share_the_refresh_too(oauth_env: OAuthEnv) -> None:
    """POST /resolve runs in worker threads; their refresh still happens once, on the loop."""
    from concurrent.futures import ThreadPoolExecutor

    oauth_env.pkce_login()
    wait_until_expired(_expires_at(oauth_env))

    def resolve(_index: int) -> str:
        with oauth_env.api() as api:
            answer = api.resolve("https://api.oauthco.test/v1/me")
        return str(answer["headers"]["Authorization"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        headers = set(pool.map(resolve, range(10)))
    assert len(oauth_env.server.token_requests("refresh_token")) == 1
    assert headers == {f"Bearer {oauth_env.server.issued('AccessToken')[-1]}"}

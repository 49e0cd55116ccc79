"""Device authorization: start, poll outcomes, interval rules."""

from __future__ import annotations

import pytest

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.device_code import (
    DEFAULT_INTERVAL,
    DevicePending,
    next_interval,
    poll_device_token,
    start_device_authorization,
)
from authsome.flows.tokens import OAuthClient, TokenSet
from tests.unit.flows.support import Recorder, form, json_response, run

CLIENT = OAuthClient("device-client")


def test_start_reads_codes_and_defaults_the_interval() -> None:
    recorder = Recorder(
        lambda r: json_response(
            200,
            {
                "device_code": "dc",
                "user_code": "ABCD-EFGH",
                "verification_uri": "https://as.example/device",
                "expires_in": 900,
            },
        )
    )
    started = run(
        lambda http: start_device_authorization(
            http, "https://as.example/device/auth", CLIENT, scopes=["read"]
        ),
        recorder,
    )
    assert started.user_code == "ABCD-EFGH"
    assert started.interval == DEFAULT_INTERVAL
    assert "dc" not in repr(started)
    assert form(recorder.requests[0]) == {"scope": "read", "client_id": "device-client"}


def test_start_accepts_googles_verification_url_and_a_given_interval() -> None:
    body = {"device_code": "d", "user_code": "u", "verification_url": "https://g/x", "interval": 7}
    started = run(
        lambda http: start_device_authorization(http, "https://g/device", CLIENT, scopes=[]),
        lambda r: json_response(200, body),
    )
    assert (started.verification_uri, started.interval) == ("https://g/x", 7)


def _poll(body: dict[str, object], status: int = 400) -> TokenSet | DevicePending:
    return run(
        lambda http: poll_device_token(http, "https://as.example/token", CLIENT, "dc"),
        lambda r: json_response(status, body),
    )


def test_pending_and_slow_down() -> None:
    assert _poll({"error": "authorization_pending"}) == DevicePending()
    slow = _poll({"error": "slow_down"})
    assert slow == DevicePending(slow_down=True)
    assert isinstance(slow, DevicePending)
    assert next_interval(5, slow) == 10
    assert next_interval(5, DevicePending()) == 5


@pytest.mark.parametrize(
    ("error", "words"), [("access_denied", "refused"), ("expired_token", "expired")]
)
def test_denied_and_expired_end_the_login(error: str, words: str) -> None:
    with pytest.raises(AuthenticationFailed, match=words):
        _poll({"error": error})


def test_tokens_and_server_trouble() -> None:
    tokens = _poll({"access_token": "a", "token_type": "Bearer"}, status=200)
    assert isinstance(tokens, TokenSet)
    with pytest.raises(EndpointUnreachable):
        _poll({}, status=502)

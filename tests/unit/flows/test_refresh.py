"""Refresh: when it is due, what is sent, and how failures are classified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from authsome.errors import CredentialUnavailable, EndpointUnreachable
from authsome.flows.refresh import (
    RefreshRefused,
    refresh_at,
    refresh_due,
    refresh_margin,
    refresh_tokens,
)
from authsome.flows.tokens import OAuthClient
from tests.unit.flows.support import Recorder, form, json_response, run

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [
        (timedelta(hours=1), timedelta(seconds=60)),  # 60 s is shorter than 6 min
        (timedelta(seconds=300), timedelta(seconds=30)),  # a tenth is shorter
        (timedelta(seconds=4), timedelta(seconds=0.4)),
        (None, timedelta(seconds=60)),
    ],
)
def test_margin_is_the_shorter_of_60s_and_a_tenth(
    lifetime: timedelta | None, margin: timedelta
) -> None:
    assert refresh_margin(lifetime) == margin


def test_due_only_inside_the_margin() -> None:
    expires = NOW + timedelta(seconds=100)
    life = timedelta(seconds=1000)
    assert refresh_at(expires, life) == NOW + timedelta(seconds=40)
    assert not refresh_due(expires, life, now=NOW + timedelta(seconds=39))
    assert refresh_due(expires, life, now=NOW + timedelta(seconds=40))
    assert not refresh_due(None, life, now=NOW)


def test_refresh_sends_the_token_and_keeps_it_when_not_rotated() -> None:
    recorder = Recorder(lambda r: json_response(200, {"access_token": "a2", "expires_in": 5}))
    tokens = run(
        lambda http: refresh_tokens(
            http, "https://as.example/token", OAuthClient("c"), "rt-old", resource="https://r"
        ),
        recorder,
    )
    assert tokens.refresh_token == "rt-old"
    assert form(recorder.requests[0]) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-old",
        "resource": "https://r",
        "client_id": "c",
    }


def test_rotated_token_is_returned() -> None:
    body = {"access_token": "a2", "refresh_token": "rt-new"}
    tokens = run(
        lambda http: refresh_tokens(http, "https://as.example/token", OAuthClient("c"), "rt"),
        lambda r: json_response(200, body),
    )
    assert tokens.refresh_token == "rt-new"


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_client", "unauthorized_client"])
def test_refused_refresh_needs_a_login(error: str) -> None:
    with pytest.raises(CredentialUnavailable, match=error) as caught:
        run(
            lambda http: refresh_tokens(http, "https://as.example/token", OAuthClient("c"), "rt"),
            lambda r: json_response(400, {"error": error}),
        )
    assert isinstance(caught.value, RefreshRefused) and caught.value.error == error


def test_unavailable_server_is_transient() -> None:
    with pytest.raises(EndpointUnreachable):
        run(
            lambda http: refresh_tokens(http, "https://as.example/token", OAuthClient("c"), "rt"),
            lambda r: json_response(503, {}),
        )

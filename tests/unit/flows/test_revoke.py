"""Revocation (RFC 7009)."""

from __future__ import annotations

import pytest

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.revoke import revoke_token
from authsome.flows.tokens import OAuthClient
from tests.unit.flows.support import Recorder, form, json_response, run


def test_revocation_sends_token_hint_and_client() -> None:
    recorder = Recorder(lambda r: json_response(200, {}))
    run(
        lambda http: revoke_token(
            http, "https://as.example/revoke", OAuthClient("c"), "rt", hint="refresh_token"
        ),
        recorder,
    )
    assert form(recorder.requests[0]) == {
        "token": "rt",
        "token_type_hint": "refresh_token",
        "client_id": "c",
    }


@pytest.mark.parametrize(
    ("status", "error"), [(503, EndpointUnreachable), (401, AuthenticationFailed)]
)
def test_failures(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        run(
            lambda http: revoke_token(
                http, "https://as.example/revoke", OAuthClient("c"), "t", hint="access_token"
            ),
            lambda r: json_response(status, {}),
        )

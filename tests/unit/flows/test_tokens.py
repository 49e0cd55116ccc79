"""Token requests: client authentication, parsing, error bodies, transport errors."""

from __future__ import annotations

import base64

import httpx
import pytest

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.tokens import (
    OAuthClient,
    OAuthErrorResponse,
    request_tokens,
    unverified_id_token_claims,
)
from tests.unit.flows.support import Recorder, form, json_response, run

TOKEN_URL = "https://as.example/token"


def test_basic_auth_form_encodes_id_and_secret() -> None:
    client = OAuthClient("id:with/odd", "s3cr et+", "client_secret_basic")
    data: dict[str, str] = {}
    headers = client.authenticate(data)
    raw = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert raw == "id%3Awith%2Fodd:s3cr%20et%2B"
    assert data == {}


def test_public_client_sends_only_its_id_and_post_sends_the_secret() -> None:
    public: dict[str, str] = {}
    assert OAuthClient("pub").authenticate(public) == {}
    assert public == {"client_id": "pub"}
    posted: dict[str, str] = {}
    OAuthClient("c", "s", "client_secret_post").authenticate(posted)
    assert posted == {"client_id": "c", "client_secret": "s"}


def test_secrets_never_show_in_reprs() -> None:
    client = OAuthClient("c", "very-secret-value")
    assert "very-secret-value" not in repr(client)


def test_token_response_is_parsed() -> None:
    recorder = Recorder(
        lambda request: json_response(
            200,
            {
                "access_token": "at-1",
                "token_type": "bearer",
                "expires_in": 30,
                "refresh_token": "rt-1",
                "scope": "read write",
            },
        )
    )
    tokens = run(
        lambda http: request_tokens(http, TOKEN_URL, OAuthClient("c"), {"grant_type": "x"}),
        recorder,
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("at-1", "rt-1", 30)
    assert tokens.scope == ("read", "write")
    assert tokens.expires_at is not None
    assert "at-1" not in repr(tokens) and "rt-1" not in repr(tokens)
    assert form(recorder.requests[0]) == {"grant_type": "x", "client_id": "c"}
    assert recorder.requests[0].headers["accept"] == "application/json"


@pytest.mark.parametrize("status", [200, 400, 401])
def test_error_bodies_raise_oauth_error_even_with_200(status: int) -> None:
    body = {"error": "invalid_grant", "error_description": "gone\nwith newline"}
    with pytest.raises(OAuthErrorResponse) as caught:
        run(
            lambda http: request_tokens(http, TOKEN_URL, OAuthClient("c"), {}),
            lambda request: json_response(status, body),
        )
    assert caught.value.error == "invalid_grant"
    assert caught.value.description == "gone?with newline"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_trouble_is_endpoint_unreachable(status: int) -> None:
    with pytest.raises(EndpointUnreachable):
        run(
            lambda http: request_tokens(http, TOKEN_URL, OAuthClient("c"), {}),
            lambda request: json_response(status, {"error": "temporarily_unavailable"}),
        )


def test_transport_failures_are_endpoint_unreachable_without_the_query() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(EndpointUnreachable) as caught:
        run(
            lambda http: request_tokens(http, TOKEN_URL + "?code=SECRETCODE", OAuthClient("c"), {}),
            refuse,
        )
    assert "SECRETCODE" not in caught.value.message
    assert "as.example/token" in caught.value.message


def test_non_bearer_and_missing_tokens_are_refused() -> None:
    for body in ({"access_token": "x", "token_type": "mac"}, {"token_type": "Bearer"}):
        with pytest.raises(AuthenticationFailed):
            run(
                lambda http: request_tokens(http, TOKEN_URL, OAuthClient("c"), {}),
                lambda request, body=body: json_response(200, body),
            )


def test_id_token_claims_are_read_for_display_only() -> None:
    payload = base64.urlsafe_b64encode(b'{"sub":"alice","email":"a@x.test"}').rstrip(b"=")
    token = f"e30.{payload.decode()}.sig"
    assert unverified_id_token_claims(token) == {"sub": "alice", "email": "a@x.test"}
    assert unverified_id_token_claims("not-a-jwt") == {}
    assert unverified_id_token_claims("a.%%%.c") == {}

"""Authorization code + PKCE: the challenge, the URL, the callback checks, the exchange."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from authsome.errors import AuthenticationFailed
from authsome.flows.pkce import (
    IssuerCheck,
    authorization_url,
    check_callback,
    exchange_code,
    new_verifier,
    s256_challenge,
)
from authsome.flows.tokens import OAuthClient
from tests.unit.flows.support import Recorder, form, json_response, run


def test_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_are_43_unreserved_characters_and_unique() -> None:
    made = {new_verifier() for _ in range(50)}
    assert len(made) == 50
    assert all(len(v) == 43 and v.replace("-", "").replace("_", "").isalnum() for v in made)


def test_authorization_url_keeps_existing_query_and_sends_s256() -> None:
    url = authorization_url(
        "https://as.example/authorize?audience=api",
        client_id="c",
        redirect_uri="http://127.0.0.1:7998/auth/callback/oauth",
        scopes=["read", "write"],
        state="st",
        verifier="v" * 43,
        resource="https://api.example/mcp",
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["audience"] == "api"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == s256_challenge("v" * 43)
    assert query["scope"] == "read write"
    assert query["resource"] == "https://api.example/mcp"
    assert "v" * 43 not in url


ISSUER = IssuerCheck(issuer="https://as.example", endpoint_origin="https://as.example")


def test_callback_returns_the_code_when_state_and_issuer_match() -> None:
    params = {"code": "c1", "state": "st", "iss": "https://as.example"}
    assert check_callback(params, expected_state="st", issuer_check=ISSUER) == "c1"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"code": "c", "state": "other"}, "state"),
        ({"code": "c", "state": "st", "iss": "https://evil.example"}, "issuer"),
        ({"error": "access_denied", "error_description": "no", "state": "st"}, "access_denied"),
        ({"state": "st"}, "no code"),
    ],
)
def test_callback_problems_are_clear(params: dict[str, str], words: str) -> None:
    with pytest.raises(AuthenticationFailed, match=words):
        check_callback(params, expected_state="st", issuer_check=ISSUER)


def test_issuer_required_when_announced_and_origin_checked_without_metadata() -> None:
    required = IssuerCheck("https://as.example", "https://as.example", required=True)
    with pytest.raises(AuthenticationFailed, match="no 'iss'"):
        required.check(None)
    by_origin = IssuerCheck(None, "https://as.example")
    by_origin.check("https://as.example/tenant")
    by_origin.check(None)
    with pytest.raises(AuthenticationFailed):
        by_origin.check("https://as.example.evil.test")


def test_exchange_sends_code_verifier_redirect_and_resource() -> None:
    recorder = Recorder(lambda r: json_response(200, {"access_token": "a", "token_type": "Bearer"}))
    run(
        lambda http: exchange_code(
            http,
            "https://as.example/token",
            OAuthClient("c", "s"),
            code="the-code",
            verifier="the-verifier",
            redirect_uri="http://127.0.0.1:1/cb",
            resource="https://api.example",
        ),
        recorder,
    )
    sent = form(recorder.requests[0])
    assert sent == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1:1/cb",
        "code_verifier": "the-verifier",
        "resource": "https://api.example",
    }
    assert recorder.requests[0].headers["authorization"].startswith("Basic ")


def test_refused_code_is_authentication_failed() -> None:
    with pytest.raises(AuthenticationFailed, match="invalid_grant"):
        run(
            lambda http: exchange_code(
                http,
                "https://as.example/token",
                OAuthClient("c"),
                code="x",
                verifier="v",
                redirect_uri="http://127.0.0.1:1/cb",
            ),
            lambda r: json_response(400, {"error": "invalid_grant"}),
        )

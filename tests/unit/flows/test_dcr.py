"""Discovery (RFC 8414, OpenID, RFC 9728) and registration (RFC 7591)."""

from __future__ import annotations

import json

import httpx
import pytest

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.dcr import (
    authorization_server_metadata_urls,
    discover_authorization_server,
    discover_protected_resource,
    protected_resource_metadata_urls,
    register_client,
)
from tests.unit.flows.support import Recorder, json_response, run


def _metadata(issuer: str, **extra: object) -> dict[str, object]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "code_challenge_methods_supported": ["S256"],
        **extra,
    }


def test_well_known_urls_for_root_and_path_issuers() -> None:
    assert authorization_server_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]
    assert authorization_server_metadata_urls("https://as.example/tenant/1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant/1",
        "https://as.example/.well-known/openid-configuration/tenant/1",
        "https://as.example/tenant/1/.well-known/openid-configuration",
    ]
    assert protected_resource_metadata_urls("https://api.example/mcp") == [
        "https://api.example/.well-known/oauth-protected-resource/mcp",
        "https://api.example/.well-known/oauth-protected-resource",
    ]


@pytest.mark.parametrize(
    "served_at",
    [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
    ],
)
def test_path_issuer_found_at_each_location(served_at: str) -> None:
    issuer = "https://as.example/tenant"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == served_at:
            return json_response(
                200, _metadata(issuer, authorization_response_iss_parameter_supported=True)
            )
        return json_response(404, {})

    found = run(lambda http: discover_authorization_server(http, issuer), handler)
    assert found.token_endpoint == f"{issuer}/token"
    assert found.iss_parameter_supported


def test_metadata_for_another_issuer_is_refused() -> None:
    with pytest.raises(AuthenticationFailed, match="RFC 8414"):
        run(
            lambda http: discover_authorization_server(http, "https://as.example"),
            lambda r: json_response(200, _metadata("https://evil.example")),
        )


def test_plain_http_endpoint_outside_loopback_is_refused() -> None:
    body = _metadata("https://as.example", token_endpoint="http://as.example/token")
    with pytest.raises(AuthenticationFailed, match="unsafe"):
        run(
            lambda http: discover_authorization_server(http, "https://as.example"),
            lambda r: json_response(200, body),
        )


def test_no_s256_is_refused_and_no_metadata_is_clear() -> None:
    body = _metadata("https://as.example", code_challenge_methods_supported=["plain"])
    with pytest.raises(AuthenticationFailed, match="S256"):
        run(
            lambda http: discover_authorization_server(http, "https://as.example"),
            lambda r: json_response(200, body),
        )
    with pytest.raises(AuthenticationFailed, match="no authorization server metadata"):
        run(
            lambda http: discover_authorization_server(http, "https://as.example"),
            lambda r: json_response(404, {}),
        )
    with pytest.raises(EndpointUnreachable):
        run(
            lambda http: discover_authorization_server(http, "https://as.example"),
            lambda r: json_response(502, {}),
        )


def test_protected_resource_metadata_from_well_known() -> None:
    body = {"resource": "https://api.example/mcp", "authorization_servers": ["https://as.example"]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/oauth-protected-resource/mcp":
            return json_response(200, body)
        return json_response(404, {})

    found = run(lambda http: discover_protected_resource(http, "https://api.example/mcp"), handler)
    assert found is not None
    assert found.authorization_servers == ("https://as.example",)


def test_protected_resource_metadata_from_a_401_challenge() -> None:
    body = {"resource": "https://api.example/mcp", "authorization_servers": ["https://as.example"]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mcp":
            challenge = 'Bearer resource_metadata="https://api.example/meta"'
            return httpx.Response(401, headers={"www-authenticate": challenge})
        if request.url.path == "/meta":
            return json_response(200, body)
        return json_response(404, {})

    found = run(lambda http: discover_protected_resource(http, "https://api.example/mcp"), handler)
    assert found is not None and found.resource == "https://api.example/mcp"


def test_protected_resource_metadata_for_another_resource_is_refused() -> None:
    body = {"resource": "https://other.example/", "authorization_servers": ["https://as.example"]}
    with pytest.raises(AuthenticationFailed, match="RFC 9728"):
        run(
            lambda http: discover_protected_resource(http, "https://api.example/mcp"),
            lambda r: json_response(200, body),
        )


def test_no_protected_resource_metadata_is_none() -> None:
    assert (
        run(
            lambda http: discover_protected_resource(http, "https://api.example/mcp"),
            lambda r: json_response(404, {}),
        )
        is None
    )


def test_registration_as_native_public_client() -> None:
    recorder = Recorder(
        lambda r: json_response(
            201,
            {
                "client_id": "new-client",
                "token_endpoint_auth_method": "none",
                "registration_access_token": "RAT-secret-4f1",
                "registration_client_uri": "https://as.example/register/new-client",
            },
        )
    )
    registered = run(
        lambda http: register_client(
            http,
            "https://as.example/register",
            redirect_uri="http://127.0.0.1:7998/auth/callback/oauth",
            client_name="Authsome",
            scopes=["read"],
        ),
        recorder,
    )
    sent = json.loads(recorder.requests[0].content)
    assert sent["token_endpoint_auth_method"] == "none"
    assert sent["application_type"] == "native"
    assert sent["redirect_uris"] == ["http://127.0.0.1:7998/auth/callback/oauth"]
    assert sent["grant_types"] == ["authorization_code", "refresh_token"]
    assert registered.client_id == "new-client"
    assert "RAT-secret-4f1" not in repr(registered)


def test_registration_error_is_clear() -> None:
    with pytest.raises(AuthenticationFailed, match="invalid_redirect_uri"):
        run(
            lambda http: register_client(
                http, "https://as.example/register", redirect_uri="x", client_name="A"
            ),
            lambda r: json_response(400, {"error": "invalid_redirect_uri"}),
        )

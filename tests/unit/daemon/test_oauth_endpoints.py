"""Which endpoints and which flow a login uses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from authsome.daemon.services.oauth_endpoints import (
    Endpoints,
    base_url_for,
    check_base_url,
    choose_flow,
    configured_endpoints,
    discovered_endpoints,
)
from authsome.errors import AuthenticationFailed, InvalidInput
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition, load_provider_data
from tests.unit.flows.support import Handler, Recorder, json_response, run


def _provider(flow: str = "pkce", **oauth: Any) -> ProviderDefinition:
    urls = {
        "authorization_url": "https://as.example/authorize",
        "token_url": "https://as.example/token",
        **oauth,
    }
    return load_provider_data(
        {
            "schema_version": 1,
            "name": "acme",
            "display_name": "Acme",
            "auth_type": "oauth2",
            "flow": flow,
            "api_url": ["api.acme.test"],
            "oauth": {k: v for k, v in urls.items() if v is not None},
        },
        source="test",
    )


DEVICE = {"device_authorization_url": "https://as.example/device"}


def test_flow_follows_the_request_then_the_provider() -> None:
    both = _provider(**DEVICE)
    endpoints = configured_endpoints(both, "")
    assert choose_flow(both, endpoints, None, prefer_device=False) == "pkce"
    assert choose_flow(both, endpoints, "device_code", prefer_device=False) == "device_code"
    # No browser can be opened: the device flow, since the provider has it.
    assert choose_flow(both, endpoints, None, prefer_device=True) == "device_code"


def test_no_browser_without_device_support_stays_pkce() -> None:
    browser_only = _provider()
    endpoints = configured_endpoints(browser_only, "")
    assert choose_flow(browser_only, endpoints, None, prefer_device=True) == "pkce"
    with pytest.raises(InvalidInput, match="device flow"):
        choose_flow(browser_only, endpoints, "device_code", prefer_device=False)


def test_device_provider_uses_the_device_flow() -> None:
    device = _provider("device_code", authorization_url=None, **DEVICE)
    endpoints = configured_endpoints(device, "")
    assert choose_flow(device, endpoints, None, prefer_device=False) == "device_code"
    with pytest.raises(InvalidInput, match="browser login"):
        choose_flow(device, endpoints, "pkce", prefer_device=False)


def test_base_url_is_filled_in_and_required_when_templated() -> None:
    tenant = _provider(
        authorization_url="{base_url}/oauth/authorize", token_url="{base_url}/oauth/token"
    )
    with pytest.raises(InvalidInput, match="--base-url"):
        configured_endpoints(tenant, base_url_for(tenant, None))
    filled = configured_endpoints(tenant, base_url_for(tenant, "https://git.example.org/"))
    assert filled.authorization == "https://git.example.org/oauth/authorize"
    assert filled.token == "https://git.example.org/oauth/token"


@pytest.mark.parametrize(
    "value",
    ["http://git.example.org", "https://git.example.org/?x=1", "ftp://x", "https://u@h.example"],
)
def test_unsafe_base_urls_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_base_url(value)


def test_loopback_http_base_url_is_allowed() -> None:
    assert check_base_url("http://127.0.0.1:8080/oidc/") == "http://127.0.0.1:8080/oidc"


# --- discovery for dcr_pkce providers ----------------------------------------------------


def _as_metadata(issuer: str) -> dict[str, object]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "revocation_endpoint": f"{issuer}/revoke",
        "code_challenge_methods_supported": ["S256"],
    }


def _discover(provider: ProviderDefinition, handler: Handler) -> tuple[Endpoints, list[str]]:
    seen = Recorder(handler)
    endpoints, _metadata = run(
        lambda http: discovered_endpoints(http, provider, base_url_for(provider, None)), seen
    )
    return endpoints, [str(request.url) for request in seen.requests]


def test_bundled_notion_mcp_is_discovered_through_its_origin_without_base_url() -> None:
    """No RFC 9728 document and no path issuer: the origin's RFC 8414 metadata is used."""
    notion = ProviderCatalogue.load().get("notion-mcp")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/oauth-authorization-server":
            return json_response(200, _as_metadata("https://mcp.notion.com"))
        if request.url.path == "/mcp":
            return json_response(401, {"error": "invalid_token"})
        return json_response(404, {})

    endpoints, asked = _discover(notion, handler)
    assert endpoints.issuer == "https://mcp.notion.com"
    assert endpoints.registration == "https://mcp.notion.com/register"
    assert endpoints.token == "https://mcp.notion.com/token"
    assert endpoints.resource is None
    assert asked[0] == "https://mcp.notion.com/.well-known/oauth-protected-resource/mcp"
    assert asked[-1] == "https://mcp.notion.com/.well-known/oauth-authorization-server"


def test_bundled_sentry_mcp_prefers_resource_metadata_and_keeps_its_named_urls() -> None:
    sentry = ProviderCatalogue.load().get("sentry-mcp")
    resource = "https://mcp.sentry.dev/mcp"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/oauth-protected-resource/mcp":
            body = {"resource": resource, "authorization_servers": ["https://mcp.sentry.dev"]}
            return json_response(200, body)
        if request.url.path == "/.well-known/oauth-authorization-server":
            return json_response(200, _as_metadata("https://mcp.sentry.dev"))
        return json_response(404, {})

    endpoints, _asked = _discover(sentry, handler)
    assert endpoints.resource == resource  # sent as RFC 8707 `resource`
    assert endpoints.registration == "https://mcp.sentry.dev/oauth/register"  # named wins
    assert endpoints.revocation == "https://mcp.sentry.dev/revoke"  # discovered fills gaps


def test_no_metadata_anywhere_names_both_places_tried() -> None:
    notion = ProviderCatalogue.load().get("notion-mcp")
    with pytest.raises(AuthenticationFailed, match=r"mcp\.notion\.com/mcp or https://mcp"):
        _discover(notion, lambda request: json_response(404, {}))

"""Which endpoints and which flow a login uses."""

from __future__ import annotations

from typing import Any

import pytest

from authsome.daemon.services.oauth_endpoints import (
    base_url_for,
    check_base_url,
    choose_flow,
    configured_endpoints,
)
from authsome.errors import InvalidInput
from authsome.providers.schema import ProviderDefinition, load_provider_data


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

"""`oauth.issuer`: optional, an issuer identifier (no query), filled like the other URLs."""

from __future__ import annotations

from typing import Any

import pytest

from authsome.daemon.services.oauth_endpoints import configured_endpoints
from authsome.errors import InvalidProvider
from authsome.providers.schema import load_provider_data


def _provider(**oauth: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": "issuerco",
        "display_name": "Issuer Co",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": ["api.issuer.example"],
        "oauth": {
            "authorization_url": "{base_url}/oauth/authorize",
            "token_url": "{base_url}/oauth/token",
            **oauth,
        },
    }


def test_a_file_without_issuer_still_loads_and_checks_only_the_origin() -> None:
    definition = load_provider_data(_provider(), source="issuerco.json")
    assert definition.oauth is not None and definition.oauth.issuer is None
    assert configured_endpoints(definition, "https://as.example").issuer is None


def test_the_issuer_is_filled_from_the_base_url_and_reaches_the_check() -> None:
    definition = load_provider_data(_provider(issuer="{base_url}/tenant"), source="issuerco.json")
    endpoints = configured_endpoints(definition, "https://as.example")
    assert endpoints.issuer == "https://as.example/tenant"
    assert endpoints.as_dict()["issuer"] == "https://as.example/tenant"  # kept on the session


@pytest.mark.parametrize(
    "issuer", ["https://as.example/?tenant=1", "http://as.example", "https://as.example/#x"]
)
def test_an_issuer_with_a_query_fragment_or_plain_http_is_refused(issuer: str) -> None:
    with pytest.raises(InvalidProvider, match=r"oauth\.issuer"):
        load_provider_data(_provider(issuer=issuer), source="issuerco.json")

"""Provider definitions built in tests, for the matcher and the catalogue's rules."""

from __future__ import annotations

from typing import Any

from authsome.providers.schema import ProviderDefinition


def provider(name: str, *api_url: str, **fields: Any) -> ProviderDefinition:
    """An API-key provider ``name`` for the hosts ``api_url``, with any other
    ``fields`` of the schema (``alternative_to=``, ...)."""
    return ProviderDefinition.model_validate(
        {
            "schema_version": 1,
            "name": name,
            "display_name": name.title(),
            "auth_type": "api_key",
            "flow": "api_key",
            "api_url": list(api_url),
            "api_key": {},
            **fields,
        }
    )

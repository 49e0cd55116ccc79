"""Where a provider's OAuth endpoints are, and which flow a login uses.

Providers with ``flow: pkce`` or ``device_code`` name their URLs; a URL
may start with ``{base_url}``, filled from ``--base-url`` or the provider's
``oauth.base_url`` (multi-tenant services). Providers with
``flow: dcr_pkce`` are discovered from ``--base-url`` or ``oauth.base_url``:
first as a protected resource (RFC 9728, MCP servers), whose metadata names
the authorization server and the ``resource`` to send (RFC 8707); else as
an issuer (RFC 8414 / OpenID), and last through its origin (MCP servers
without RFC 9728 metadata). URLs the provider names win over discovered
ones. A configured ``oauth.issuer`` is what RFC 9207's ``iss`` is compared
with; for a discovered server it must equal the metadata's issuer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpx

from authsome.errors import AuthenticationFailed, InvalidInput
from authsome.flows.dcr import (
    ServerMetadata,
    check_endpoint_url,
    discover_authorization_server,
    discover_protected_resource,
)
from authsome.providers.matching import BASE_URL_PLACEHOLDER
from authsome.providers.schema import ProviderDefinition

PKCE = "pkce"
DEVICE_CODE = "device_code"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Endpoints:
    """Everything a login needs to know about the server, all plain values."""

    authorization: str | None
    token: str | None
    device: str | None
    revocation: str | None
    registration: str | None
    issuer: str | None = None
    iss_required: bool = False
    resource: str | None = None
    base_url: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {
            "authorization": self.authorization,
            "token": self.token,
            "device": self.device,
            "revocation": self.revocation,
            "issuer": self.issuer,
            "resource": self.resource,
            "base_url": self.base_url or None,
        }


def check_base_url(value: str) -> str:
    """A tenant URL: https (http only on loopback), no query or fragment."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)
    if not secure or not host or parts.query or parts.fragment or parts.username:
        raise InvalidInput(
            "--base-url must be an https:// URL without query (http:// only for localhost)"
        )
    return value


def base_url_for(provider: ProviderDefinition, requested: str | None) -> str:
    """The base URL this login uses ("" when the provider needs none)."""
    if requested:
        return check_base_url(requested)
    oauth = provider.oauth
    return oauth.base_url.rstrip("/") if oauth is not None and oauth.base_url else ""


def _fill(url: str | None, base_url: str, provider: str) -> str | None:
    if url is None or not url.startswith(BASE_URL_PLACEHOLDER):
        return url
    if not base_url:
        raise InvalidInput(
            f"{provider} is multi-tenant: say which instance with --base-url",
            hint=f"authsome login {provider} --base-url https://your.instance.example",
        )
    return base_url + url[len(BASE_URL_PLACEHOLDER) :]


def configured_endpoints(provider: ProviderDefinition, base_url: str) -> Endpoints:
    """The URLs the provider definition names, with ``{base_url}`` filled in."""
    oauth = provider.oauth
    if provider.auth_type != "oauth2" or oauth is None:
        raise InvalidInput(f"{provider.name} does not log in with OAuth2")
    return Endpoints(
        authorization=_fill(oauth.authorization_url, base_url, provider.name),
        token=_fill(oauth.token_url, base_url, provider.name),
        device=_fill(oauth.device_authorization_url, base_url, provider.name),
        revocation=_fill(oauth.revocation_url, base_url, provider.name),
        registration=_fill(oauth.registration_url, base_url, provider.name),
        issuer=_fill(oauth.issuer, base_url, provider.name),
        base_url=base_url,
    )


async def discovered_endpoints(
    http: httpx.AsyncClient, provider: ProviderDefinition, base_url: str
) -> tuple[Endpoints, ServerMetadata]:
    """Endpoints of a ``dcr_pkce`` provider: its own URLs, completed by discovery."""
    named = configured_endpoints(provider, base_url)
    if not base_url:
        raise InvalidInput(
            f"{provider.name} is discovered from its URL: pass --base-url",
            hint=f"authsome login {provider.name} --base-url https://service.example/mcp",
        )
    start = check_endpoint_url(base_url, what="base URL")
    resource = await discover_protected_resource(http, start)
    if resource is not None:
        issuer = resource.authorization_servers[0]
        metadata = await discover_authorization_server(http, issuer)
    else:
        issuer, metadata = await _issuer_without_resource_metadata(http, start)
    if named.issuer is not None and named.issuer != metadata.issuer:
        raise AuthenticationFailed(
            f"the metadata found for {provider.name} names issuer {metadata.issuer}, "
            f"not {named.issuer} as the provider says; the login was not started"
        )
    found = replace(
        named,
        authorization=named.authorization or metadata.authorization_endpoint,
        token=named.token or metadata.token_endpoint,
        device=None,  # a registered client asks for the code grant only
        revocation=named.revocation or metadata.revocation_endpoint,
        registration=named.registration or metadata.registration_endpoint,
        issuer=metadata.issuer,
        iss_required=metadata.iss_parameter_supported,
        resource=resource.resource if resource is not None else None,
    )
    if not found.authorization or not found.token:
        raise InvalidInput(f"{issuer} publishes no authorization or token endpoint")
    if not found.registration:
        raise InvalidInput(
            f"{issuer} offers no dynamic client registration (RFC 7591)",
            hint="ask the service for a client id and use a provider with flow 'pkce'",
        )
    return found, metadata


async def _issuer_without_resource_metadata(
    http: httpx.AsyncClient, start: str
) -> tuple[str, ServerMetadata]:
    """The authorization server of a URL that publishes no RFC 9728 metadata.

    ``start`` itself is tried as an issuer first (a path-suffixed issuer);
    then, for an MCP server URL such as ``https://mcp.example/mcp``, the
    origin, which MCP servers of the 2025-03-26 revision use as their
    authorization base URL.
    """
    try:
        return start, await discover_authorization_server(http, start)
    except AuthenticationFailed:
        parts = urlsplit(start)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin == start:
            raise
        try:
            return origin, await discover_authorization_server(http, origin)
        except AuthenticationFailed:
            raise AuthenticationFailed(
                f"no authorization server metadata found for {start} or {origin} "
                "(RFC 9728 / RFC 8414 / OpenID discovery)"
            ) from None


def choose_flow(
    provider: ProviderDefinition, endpoints: Endpoints, requested: str | None, prefer_device: bool
) -> str:
    """``pkce`` or ``device_code``: as asked, else the provider's, else what is possible.

    ``prefer_device`` (the CLI found no browser to open) switches a browser
    login to the device flow when the provider supports both.
    """
    can_device = endpoints.device is not None and endpoints.token is not None
    can_browser = endpoints.authorization is not None and endpoints.token is not None
    if requested == DEVICE_CODE and not can_device:
        raise InvalidInput(f"{provider.name} does not offer the device flow")
    if requested == PKCE and not can_browser:
        raise InvalidInput(f"{provider.name} does not offer a browser login")
    if requested in (PKCE, DEVICE_CODE):
        return requested
    if requested is not None:
        raise InvalidInput("--flow is pkce or device_code")
    if provider.flow == DEVICE_CODE or not can_browser:
        if not can_device:
            raise InvalidInput(f"{provider.name} names no usable OAuth endpoints")
        return DEVICE_CODE
    return DEVICE_CODE if prefer_device and can_device else PKCE

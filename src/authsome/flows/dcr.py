"""Discovery and dynamic client registration, for providers without a fixed client.

- :func:`discover_protected_resource` — RFC 9728 metadata of an API (MCP
  servers publish it): which authorization server guards it, and the
  ``resource`` value to send (RFC 8707). Tried at the path-inserted
  well-known URL, at the origin's, then via the ``resource_metadata`` of a
  401's ``WWW-Authenticate``.
- :func:`discover_authorization_server` — RFC 8414 and OpenID Connect
  Discovery metadata, for issuers with or without a path:
  ``/.well-known/oauth-authorization-server{path}``,
  ``/.well-known/openid-configuration{path}``, ``{issuer}/.well-known/openid-configuration``.
  The document's ``issuer`` must equal the one asked for (RFC 8414 §3.3).
- :func:`register_client` — RFC 7591 registration as a native public client
  (``token_endpoint_auth_method: none``, loopback redirect URI).

Every endpoint a document names must be https (http only on loopback).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.http import describe_endpoint, endpoint_errors
from authsome.flows.tokens import OAuthErrorResponse, clean_text, raise_for_oauth_error

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]+)"')


def check_endpoint_url(url: object, *, what: str) -> str:
    """``url`` if it is an https URL (http only to loopback) without a fragment."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise AuthenticationFailed(f"the server metadata has no usable {what}")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)
    if not secure or not host or parts.fragment or parts.username or parts.password:
        raise AuthenticationFailed(
            f"the server metadata names an unsafe {what} ({describe_endpoint(url)}); "
            "only https (or http to localhost) is accepted"
        )
    return url


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


@dataclass(frozen=True)
class ServerMetadata:
    """The parts of RFC 8414 metadata the flows use."""

    issuer: str
    authorization_endpoint: str | None
    token_endpoint: str | None
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    iss_parameter_supported: bool = False
    scopes_supported: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceMetadata:
    """RFC 9728 metadata: the resource identifier and its authorization servers."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredClient:
    """What registration returned; secrets never show in a repr."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: str = "none"  # noqa: S105 - a method name
    registration_access_token: str | None = field(default=None, repr=False)
    registration_client_uri: str | None = None


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    origin, path = _split(issuer)
    urls = [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]
    return list(dict.fromkeys(urls))


def protected_resource_metadata_urls(resource: str) -> list[str]:
    origin, path = _split(resource)
    urls = [
        f"{origin}/.well-known/oauth-protected-resource{path}",
        f"{origin}/.well-known/oauth-protected-resource",
    ]
    return list(dict.fromkeys(urls))


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    """The JSON object at ``url``; ``None`` when the server has no such document."""
    with endpoint_errors(url):
        response = await http.get(url)
    if response.status_code >= 500:
        raise EndpointUnreachable(f"{describe_endpoint(url)} answered {response.status_code}")
    if not response.is_success:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _optional_endpoint(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if value is None else check_endpoint_url(value, what=name)


def parse_server_metadata(issuer: str, body: dict[str, Any], source: str) -> ServerMetadata:
    if body.get("issuer") != issuer:
        raise AuthenticationFailed(
            f"{describe_endpoint(source)} describes issuer {clean_text(body.get('issuer'))!r}, "
            f"not {issuer!r} (RFC 8414 §3.3)"
        )
    methods = _strings(body.get("code_challenge_methods_supported"))
    if "code_challenge_methods_supported" in body and "S256" not in methods:
        raise AuthenticationFailed(f"{issuer} does not support PKCE with S256")
    return ServerMetadata(
        issuer=issuer,
        authorization_endpoint=_optional_endpoint(body, "authorization_endpoint"),
        token_endpoint=_optional_endpoint(body, "token_endpoint"),
        registration_endpoint=_optional_endpoint(body, "registration_endpoint"),
        revocation_endpoint=_optional_endpoint(body, "revocation_endpoint"),
        device_authorization_endpoint=_optional_endpoint(body, "device_authorization_endpoint"),
        iss_parameter_supported=body.get("authorization_response_iss_parameter_supported") is True,
        scopes_supported=_strings(body.get("scopes_supported")),
    )


async def discover_authorization_server(http: httpx.AsyncClient, issuer: str) -> ServerMetadata:
    """The first metadata document found for ``issuer`` (see the module docstring)."""
    check_endpoint_url(issuer, what="issuer")
    for url in authorization_server_metadata_urls(issuer):
        body = await _get_json(http, url)
        if body is not None:
            return parse_server_metadata(issuer, body, url)
    raise AuthenticationFailed(
        f"no authorization server metadata found for {issuer} (RFC 8414 / OpenID discovery)"
    )


def _parse_resource_metadata(body: dict[str, Any], *allowed: str) -> ResourceMetadata | None:
    resource = body.get("resource")
    servers = tuple(
        check_endpoint_url(item, what="authorization server")
        for item in _strings(body.get("authorization_servers"))
    )
    if not isinstance(resource, str) or not servers:
        return None
    if resource.rstrip("/") not in {item.rstrip("/") for item in allowed}:
        raise AuthenticationFailed(
            f"the protected resource metadata is for {clean_text(resource)!r}, "
            f"not {allowed[0]!r} (RFC 9728 §3.3)"
        )
    return ResourceMetadata(resource, servers, _strings(body.get("scopes_supported")))


async def discover_protected_resource(
    http: httpx.AsyncClient, resource_url: str
) -> ResourceMetadata | None:
    """RFC 9728 metadata for ``resource_url``, or ``None`` if it publishes none."""
    check_endpoint_url(resource_url, what="resource")
    origin, _path = _split(resource_url)
    for index, url in enumerate(protected_resource_metadata_urls(resource_url)):
        body = await _get_json(http, url)
        if body is not None:
            # The origin-level document may describe the whole origin as the resource.
            allowed = (resource_url,) if index == 0 else (resource_url, origin)
            return _parse_resource_metadata(body, *allowed)
    return await _from_challenge(http, resource_url)


async def _from_challenge(http: httpx.AsyncClient, resource_url: str) -> ResourceMetadata | None:
    """RFC 9728 §5.1: a 401 from the resource may point at its metadata."""
    with endpoint_errors(resource_url):
        response = await http.get(resource_url)
    found = _RESOURCE_METADATA.search(response.headers.get("www-authenticate", ""))
    if response.status_code != 401 or found is None:
        return None
    metadata_url = check_endpoint_url(found.group(1), what="resource metadata URL")
    body = await _get_json(http, metadata_url)
    return None if body is None else _parse_resource_metadata(body, resource_url)


async def register_client(
    http: httpx.AsyncClient,
    registration_endpoint: str,
    *,
    redirect_uri: str,
    client_name: str,
    scopes: Sequence[str] = (),
) -> RegisteredClient:
    """Register a native public client with a loopback redirect (RFC 7591, RFC 8252)."""
    metadata: dict[str, Any] = {
        "client_name": client_name,
        "application_type": "native",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    if scopes:
        metadata["scope"] = " ".join(scopes)
    with endpoint_errors(registration_endpoint):
        response = await http.post(registration_endpoint, json=metadata)
    try:
        body = raise_for_oauth_error(registration_endpoint, response)
    except OAuthErrorResponse as exc:
        raise AuthenticationFailed(exc.explain("the client registration")) from None
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise AuthenticationFailed(
            f"{describe_endpoint(registration_endpoint)} registered no client_id"
        )
    secret = body.get("client_secret")
    method = body.get("token_endpoint_auth_method")
    token = body.get("registration_access_token")
    client_uri = body.get("registration_client_uri")
    return RegisteredClient(
        client_id=client_id,
        client_secret=secret if isinstance(secret, str) and secret else None,
        token_endpoint_auth_method=method if isinstance(method, str) else "none",
        registration_access_token=token if isinstance(token, str) and token else None,
        registration_client_uri=(
            check_endpoint_url(client_uri, what="registration_client_uri")
            if isinstance(client_uri, str)
            else None
        ),
    )


async def delete_registration(http: httpx.AsyncClient, client: RegisteredClient) -> bool:
    """RFC 7592 §2.3: ask the server to forget a registered client (best effort)."""
    if not client.registration_client_uri or not client.registration_access_token:
        return False
    url = client.registration_client_uri
    with endpoint_errors(url):
        response = await http.delete(
            url, headers={"Authorization": f"Bearer {client.registration_access_token}"}
        )
    return response.status_code in (200, 204)

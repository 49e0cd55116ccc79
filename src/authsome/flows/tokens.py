"""What every token-endpoint call shares: client authentication, the request,
the answer (RFC 6749 §5.1) and the error body (§5.2).

``request_tokens`` returns a :class:`TokenSet` or raises
:class:`OAuthErrorResponse`, which each flow turns into the ``AuthsomeError``
that fits it (a refused login, a connection that needs a new login, …).
Transport failures and 5xx answers are :class:`EndpointUnreachable`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.http import describe_endpoint, endpoint_errors

AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]

_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class OAuthClient:
    """A client id, its secret if it has one, and how to present them."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: AuthMethod | None = None

    @property
    def method(self) -> AuthMethod:
        if self.auth_method is not None:
            return self.auth_method
        return "client_secret_basic" if self.client_secret else "none"

    def authenticate(self, data: dict[str, str]) -> dict[str, str]:
        """Add client authentication to a form body; returns the extra headers."""
        method = self.method
        if method == "client_secret_basic" and self.client_secret is not None:
            # RFC 6749 §2.3.1: form-urlencode each part before joining.
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        data["client_id"] = self.client_id
        if method == "client_secret_post" and self.client_secret is not None:
            data["client_secret"] = self.client_secret
        return {}


@dataclass(frozen=True)
class TokenSet:
    """A successful token response. Secret fields never show in a repr."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int | None
    refresh_token: str | None = field(default=None, repr=False)
    scope: tuple[str, ...] | None = None
    id_token: str | None = field(default=None, repr=False)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def expires_at(self) -> datetime | None:
        if self.expires_in is None:
            return None
        return self.received_at + timedelta(seconds=self.expires_in)


class OAuthErrorResponse(Exception):
    """The server answered with an OAuth error body (``error``, ``error_description``)."""

    def __init__(self, endpoint: str, error: str, description: str | None, status: int) -> None:
        super().__init__(error)
        self.endpoint = endpoint
        self.error = error
        self.description = description
        self.status = status

    def explain(self, what: str) -> str:
        """``<endpoint> refused <what>: <error> (<description>)``, safe to show."""
        detail = f" ({self.description})" if self.description else ""
        return f"{describe_endpoint(self.endpoint)} refused {what}: {self.error}{detail}"


def clean_text(value: object) -> str | None:
    """Server-supplied text made safe to show: printable ASCII, bounded length."""
    if not isinstance(value, str) or not value:
        return None
    return _PRINTABLE.sub("?", value)[:_MAX_DESCRIPTION]


def parse_scope(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return tuple(value.split())
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def raise_for_oauth_error(url: str, response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful answer; otherwise the matching error.

    5xx and 429 mean "try again later" (``EndpointUnreachable``); an OAuth
    error body, even inside a 200 as some servers send, is
    ``OAuthErrorResponse``.
    """
    if response.status_code >= 500 or response.status_code == 429:
        raise EndpointUnreachable(
            f"{describe_endpoint(url)} answered {response.status_code}; try again later"
        )
    body = _json_object(response)
    if body is not None and isinstance(body.get("error"), str):
        raise OAuthErrorResponse(
            url,
            clean_text(body["error"]) or "error",
            clean_text(body.get("error_description")),
            response.status_code,
        )
    if not response.is_success or body is None:
        raise AuthenticationFailed(
            f"{describe_endpoint(url)} answered {response.status_code} without an OAuth JSON body"
        )
    return body


def parse_token_response(url: str, body: dict[str, Any]) -> TokenSet:
    access_token = body.get("access_token")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(access_token, str) or not access_token:
        raise AuthenticationFailed(f"{describe_endpoint(url)} sent no access token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise AuthenticationFailed(
            f"{describe_endpoint(url)} issued a {clean_text(token_type)!r} token; "
            "only bearer tokens are supported"
        )
    expires_in = body.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    refresh_token = body.get("refresh_token")
    id_token = body.get("id_token")
    return TokenSet(
        access_token=access_token,
        token_type="Bearer",  # noqa: S106 - the token type, normalised
        expires_in=expires_in if isinstance(expires_in, int) and expires_in >= 0 else None,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scope=parse_scope(body.get("scope")),
        id_token=id_token if isinstance(id_token, str) and id_token else None,
    )


async def request_tokens(
    http: httpx.AsyncClient, token_url: str, client: OAuthClient, data: dict[str, str]
) -> TokenSet:
    """POST one grant to the token endpoint and parse the answer."""
    body = dict(data)
    headers = client.authenticate(body)
    with endpoint_errors(token_url):
        response = await http.post(token_url, data=body, headers=headers)
    return parse_token_response(token_url, raise_for_oauth_error(token_url, response))


def unverified_id_token_claims(id_token: str | None) -> dict[str, Any]:
    """The payload of an ID token received straight from the token endpoint.

    Shown to the user only (which account a connection is); never used to
    decide anything, so its signature is not checked here.
    """
    if not id_token or id_token.count(".") != 2:
        return {}
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}

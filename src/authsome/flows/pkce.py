"""Authorization code with PKCE (RFC 7636, S256 only), for a native app (RFC 8252).

verifier = new_verifier()
url = authorization_url(endpoint, client_id=..., redirect_uri=..., scopes=["read"],
                        state=state, verifier=verifier)
# ... the browser comes back to redirect_uri with ?code=…&state=…&iss=…
code = check_callback(params, expected_state=state, issuer_check=IssuerCheck(...))
tokens = await exchange_code(http, token_url, client, code=code, verifier=verifier,
                             redirect_uri=redirect_uri)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from authsome.errors import AuthenticationFailed
from authsome.flows.tokens import (
    OAuthClient,
    OAuthErrorResponse,
    TokenSet,
    clean_text,
    request_tokens,
)


def new_verifier() -> str:
    """43 characters of the unreserved alphabet (256 bits), RFC 7636 §4.1."""
    return secrets.token_urlsafe(32)


def new_state() -> str:
    return secrets.token_urlsafe(32)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    verifier: str,
    resource: str | None = None,
) -> str:
    """The URL the user's browser opens; keeps any query the endpoint already has."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": s256_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if scopes:
        params["scope"] = " ".join(scopes)
    if resource:
        params["resource"] = resource
    parts = urlsplit(endpoint)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


@dataclass(frozen=True)
class IssuerCheck:
    """RFC 9207: what an ``iss`` in the authorization response must be.

    With the issuer known from metadata, ``iss`` must equal it (and must be
    present when the server announced it sends one). Without metadata only
    the origin of the authorization endpoint is known, and ``iss``, when
    sent, must have that origin.
    """

    issuer: str | None
    endpoint_origin: str
    required: bool = False

    def check(self, iss: str | None) -> None:
        if iss is None:
            if self.required:
                raise AuthenticationFailed(
                    "the authorization response has no 'iss' although the server sends one "
                    "(RFC 9207); the login was not completed"
                )
            return
        if self.issuer is not None:
            matches = iss == self.issuer
        else:
            parts = urlsplit(iss)
            matches = f"{parts.scheme}://{parts.netloc}".lower() == self.endpoint_origin.lower()
        if not matches:
            raise AuthenticationFailed(
                f"the authorization response came from issuer {clean_text(iss)!r}, not from "
                f"{self.issuer or self.endpoint_origin} (RFC 9207 mix-up protection); "
                "the login was not completed"
            )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_callback(
    params: Mapping[str, str], *, expected_state: str, issuer_check: IssuerCheck
) -> str:
    """The authorization code from a redirect, after checking ``state`` and ``iss``.

    Raises ``AuthenticationFailed`` for a wrong state, a wrong issuer, a
    missing code, or an error the server sent (``access_denied``, …).
    """
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise AuthenticationFailed("the 'state' of the authorization response does not match")
    issuer_check.check(params.get("iss"))
    error = params.get("error")
    if error:
        description = clean_text(params.get("error_description"))
        detail = f" ({description})" if description else ""
        raise AuthenticationFailed(
            f"the authorization server refused the login: {clean_text(error)}{detail}"
        )
    code = params.get("code")
    if not code:
        raise AuthenticationFailed("the authorization response carries no code")
    return code


async def exchange_code(
    http: httpx.AsyncClient,
    token_url: str,
    client: OAuthClient,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    resource: str | None = None,
) -> TokenSet:
    """Trade the code and the verifier for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    if resource:
        data["resource"] = resource
    try:
        return await request_tokens(http, token_url, client, data)
    except OAuthErrorResponse as exc:
        raise AuthenticationFailed(exc.explain("the authorization code")) from None

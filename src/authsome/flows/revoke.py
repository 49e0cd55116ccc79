"""Token revocation (RFC 7009).

    await revoke_token(http, revocation_url, client, refresh_token, hint="refresh_token")

Revoking a refresh token also ends the access tokens of its grant at most
servers (RFC 7009 §2.1), so a logout revokes the refresh token first.
"""

from __future__ import annotations

from typing import Literal

import httpx

from authsome.errors import AuthenticationFailed, EndpointUnreachable
from authsome.flows.http import describe_endpoint, endpoint_errors
from authsome.flows.tokens import OAuthClient

TokenHint = Literal["access_token", "refresh_token"]


async def revoke_token(
    http: httpx.AsyncClient,
    revocation_url: str,
    client: OAuthClient,
    token: str,
    *,
    hint: TokenHint,
) -> None:
    """Ask the server to revoke ``token``.

    200 means revoked, or already invalid (RFC 7009 §2.2). A 503 or other
    5xx is ``EndpointUnreachable``; a 4xx (bad client, unsupported token
    type) is ``AuthenticationFailed``.
    """
    data = {"token": token, "token_type_hint": hint}
    headers = client.authenticate(data)
    with endpoint_errors(revocation_url):
        response = await http.post(revocation_url, data=data, headers=headers)
    if response.status_code >= 500 or response.status_code == 429:
        raise EndpointUnreachable(
            f"{describe_endpoint(revocation_url)} answered {response.status_code}"
        )
    if not response.is_success:
        raise AuthenticationFailed(
            f"{describe_endpoint(revocation_url)} refused the revocation ({response.status_code})"
        )

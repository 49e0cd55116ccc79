"""Refreshing an access token (RFC 6749 §6), and when to do it.

    if refresh_due(expires_at, lifetime, now=now):
        tokens = await refresh_tokens(http, token_url, client, refresh_token)

Failures come out as one of two classes, because the caller must treat them
differently:

- ``RefreshRefused`` (a ``CredentialUnavailable``) — the server refused the refresh token
  (``invalid_grant``, or any other OAuth error): only a new login helps.
- ``EndpointUnreachable`` — timeout, connection failure, 5xx or 429: try
  again later with the same refresh token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from authsome.errors import CredentialUnavailable
from authsome.flows.tokens import OAuthClient, OAuthErrorResponse, TokenSet, request_tokens

#: Refresh when less than this remains, or less than a tenth of the lifetime
#: (whichever is shorter).
REFRESH_MARGIN = timedelta(seconds=60)


class RefreshRefused(CredentialUnavailable):
    """The server refused the refresh token; ``error`` is its OAuth error code.

    Same ``code`` as its parent: callers outside the daemon need no new case.
    """

    def __init__(self, message: str, *, error: str) -> None:
        super().__init__(message)
        self.error = error


def refresh_margin(lifetime: timedelta | None) -> timedelta:
    """How long before expiry a token is refreshed: min(60 s, lifetime / 10)."""
    if lifetime is None or lifetime <= timedelta(0):
        return REFRESH_MARGIN
    return min(REFRESH_MARGIN, lifetime / 10)


def refresh_at(expires_at: datetime | None, lifetime: timedelta | None) -> datetime | None:
    """When a token should be refreshed; ``None`` for a token that does not expire."""
    if expires_at is None:
        return None
    return expires_at - refresh_margin(lifetime)


def refresh_due(expires_at: datetime | None, lifetime: timedelta | None, *, now: datetime) -> bool:
    due = refresh_at(expires_at, lifetime)
    return due is not None and now >= due


async def refresh_tokens(
    http: httpx.AsyncClient,
    token_url: str,
    client: OAuthClient,
    refresh_token: str,
    *,
    resource: str | None = None,
) -> TokenSet:
    """One refresh request. A response without a new refresh token keeps the old one."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if resource:
        data["resource"] = resource
    try:
        tokens = await request_tokens(http, token_url, client, data)
    except OAuthErrorResponse as exc:
        raise RefreshRefused(exc.explain("the refresh token"), error=exc.error) from None
    if tokens.refresh_token is None:
        # RFC 6749 §6: the server may keep the old refresh token valid.
        return TokenSet(
            access_token=tokens.access_token,
            token_type=tokens.token_type,
            expires_in=tokens.expires_in,
            refresh_token=refresh_token,
            scope=tokens.scope,
            id_token=tokens.id_token,
            received_at=tokens.received_at,
        )
    return tokens

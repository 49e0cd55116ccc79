"""Device authorization grant (RFC 8628).

    started = await start_device_authorization(http, device_url, client, scopes=["read"])
    # show started.user_code and started.verification_uri; then, every
    # started.interval seconds until started.expires_at:
    outcome = await poll_device_token(http, token_url, client, device_code)
    # a TokenSet, or DevicePending(slow_down=…) to wait and poll again

The caller owns the clock: :func:`next_interval` applies RFC 8628 §3.5
(``slow_down`` adds 5 seconds), and polling stops at ``expires_in``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from authsome.errors import AuthenticationFailed
from authsome.flows.http import describe_endpoint, endpoint_errors
from authsome.flows.tokens import (
    OAuthClient,
    OAuthErrorResponse,
    TokenSet,
    clean_text,
    raise_for_oauth_error,
    request_tokens,
)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5
SLOW_DOWN_STEP = 5
DEFAULT_EXPIRES_IN = 600


@dataclass(frozen=True)
class DeviceAuthorization:
    """The device authorization response (RFC 8628 §3.2)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime
    interval: int


@dataclass(frozen=True)
class DevicePending:
    """Not yet: ``authorization_pending``, or ``slow_down`` (wait longer)."""

    slow_down: bool = False


def next_interval(current: int, pending: DevicePending) -> int:
    return current + SLOW_DOWN_STEP if pending.slow_down else current


def _text(body: dict[str, object], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def _positive_int(value: object, default: int) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else default


async def start_device_authorization(
    http: httpx.AsyncClient,
    device_url: str,
    client: OAuthClient,
    *,
    scopes: Sequence[str],
) -> DeviceAuthorization:
    data = {"scope": " ".join(scopes)} if scopes else {}
    headers = client.authenticate(data)
    with endpoint_errors(device_url):
        response = await http.post(device_url, data=data, headers=headers)
    try:
        body = raise_for_oauth_error(device_url, response)
    except OAuthErrorResponse as exc:
        raise AuthenticationFailed(exc.explain("the device authorization")) from None
    device_code = _text(body, "device_code")
    user_code = _text(body, "user_code")
    # "verification_url" is what some servers (Google) send instead.
    verification_uri = _text(body, "verification_uri") or _text(body, "verification_url")
    if not device_code or not user_code or not verification_uri:
        raise AuthenticationFailed(
            f"{describe_endpoint(device_url)} sent an incomplete device authorization response"
        )
    expires_in = _positive_int(body.get("expires_in"), DEFAULT_EXPIRES_IN)
    return DeviceAuthorization(
        device_code=device_code,
        user_code=clean_text(user_code) or user_code,
        verification_uri=verification_uri,
        verification_uri_complete=_text(body, "verification_uri_complete"),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        interval=_positive_int(body.get("interval"), DEFAULT_INTERVAL),
    )


async def poll_device_token(
    http: httpx.AsyncClient, token_url: str, client: OAuthClient, device_code: str
) -> TokenSet | DevicePending:
    """One poll of the token endpoint (RFC 8628 §3.4, §3.5).

    ``access_denied`` and ``expired_token`` end the login
    (``AuthenticationFailed``); transport failures are ``EndpointUnreachable``
    and leave the caller free to poll again.
    """
    data = {"grant_type": GRANT_TYPE, "device_code": device_code}
    try:
        return await request_tokens(http, token_url, client, data)
    except OAuthErrorResponse as exc:
        if exc.error == "authorization_pending":
            return DevicePending()
        if exc.error == "slow_down":
            return DevicePending(slow_down=True)
        if exc.error == "access_denied":
            raise AuthenticationFailed(
                "the login was refused at the authorization server"
            ) from None
        if exc.error == "expired_token":
            raise AuthenticationFailed(
                "the device code expired before the login was approved"
            ) from None
        raise AuthenticationFailed(exc.explain("the device code")) from None

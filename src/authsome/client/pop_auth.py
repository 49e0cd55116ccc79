"""Sign every request to the daemon with a proof-of-possession JWT (DESIGN §3).

    client = httpx.Client(base_url=..., auth=PopAuth(IdentityKey.load(path)))

Imports only what signing needs: the CLI loads this on every start.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof


class PopAuth(httpx.Auth):
    """Adds a fresh ``DPoP`` header to each request, bound to its method, URL and body."""

    # ``bsh`` covers the exact body bytes, so httpx must read a streamed body first.
    requires_request_body = True

    def __init__(self, key: IdentityKey) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["DPoP"] = sign_proof(
            self._key, method=request.method, url=str(request.url), body=request.content
        )
        yield request

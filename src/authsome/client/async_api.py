"""``AsyncDaemonClient``: the calls the async library makes, on ``httpx.AsyncClient``.

Signed and error-mapped exactly like ``DaemonClient`` (same ``PopAuth``,
same ``raise_for_error``); it has only the routes the library needs.
"""

from __future__ import annotations

from typing import Any

import httpx

from authsome.client.api import daemon_errors, raise_for_error
from authsome.client.pop_auth import PopAuth
from authsome.client.tls import daemon_verify
from authsome.crypto.identity_keys import IdentityKey


class AsyncDaemonClient:
    def __init__(self, base_url: str, key: IdentityKey, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=PopAuth(key),
            timeout=timeout,
            trust_env=False,
            verify=daemon_verify(self.base_url),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, *, json: Any = None) -> Any:
        with daemon_errors(self.base_url):
            response = await self._http.request(method, path, json=json)
        raise_for_error(response)
        return None if response.status_code == 204 else response.json()

    async def whoami(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/whoami")
        return result

    async def resolve(
        self, url: str, *, method: str = "GET", connection: str | None = None
    ) -> dict[str, Any]:
        body = {"url": url, "method": method, "connection": connection}
        result: dict[str, Any] = await self.request("POST", "/resolve", json=body)
        return result

    async def reveal(self, provider: str, connection: str | None = None) -> dict[str, Any]:
        body = {"provider": provider, "connection": connection}
        result: dict[str, Any] = await self.request("POST", "/reveal", json=body)
        return result

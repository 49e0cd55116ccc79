"""``authsome.httpx.Auth``: credentials added to each httpx request, no proxy needed.

    import httpx
    import authsome.httpx

    with httpx.Client(auth=authsome.httpx.Auth()) as http:
        http.get("https://api.openai.com/v1/models")

Each ``https://`` request gets the headers ``Client.headers_for`` returns
(nothing for hosts no provider claims; plain ``http://`` never gets any).
Works with ``httpx.Client`` and ``httpx.AsyncClient``.

Caution: with ``follow_redirects=True`` httpx carries every header except
``Authorization`` to the redirect target, even on another host. For
providers whose key travels in another header (``x-api-key``, …) keep
redirects off (httpx's default) or use ``authsome run``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from authsome.client.library import AsyncClient, Client

__all__ = ["Auth"]


class Auth(httpx.Auth):
    """An ``httpx.Auth`` asking the Authsome daemon for each request's headers.

    :param client: a ``Client`` to use (sync requests); made on first use otherwise.
    :param async_client: an ``AsyncClient`` to use (async requests); likewise.
    :param connection: use this connection instead of the provider's default.
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        async_client: AsyncClient | None = None,
        connection: str | None = None,
    ) -> None:
        self._client = client
        self._async_client = async_client
        self._connection = connection

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if request.url.scheme == "https":
            if self._client is None:
                self._client = Client()
            request.headers.update(
                self._client.headers_for(
                    str(request.url), method=request.method, connection=self._connection
                )
            )
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if request.url.scheme == "https":
            if self._async_client is None:
                self._async_client = AsyncClient()
            headers = await self._async_client.headers_for(
                str(request.url), method=request.method, connection=self._connection
            )
            request.headers.update(headers)
        yield request

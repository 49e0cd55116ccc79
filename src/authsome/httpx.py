"""``authsome.httpx.Auth``: credentials added to each httpx request, no proxy needed.

    import httpx
    import authsome.httpx

    with httpx.Client(auth=authsome.httpx.Auth()) as http:
        http.get("https://api.openai.com/v1/models")

Each ``https://`` request gets the headers ``Client.headers_for`` returns
(nothing for hosts no provider claims; plain ``http://`` never gets any).
Works with ``httpx.Client`` and ``httpx.AsyncClient``.

Redirects: the added headers belong to the one request they were resolved
for. A redirect that httpx follows (``follow_redirects=True``) goes without
them, to any origin, because httpx would otherwise copy them to wherever a
response points (it strips only ``Authorization``, and only across origins).
To follow a redirect with credentials, leave ``follow_redirects`` off and send
``response.next_request`` through the same client: the Auth then asks the
daemon again, for the new URL (so an unclaimed host gets nothing).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping

import httpx

from authsome.client.library import AsyncClient, Client

__all__ = ["Auth"]


class _RequestOnlyHeaders(httpx.Headers):
    """A request's headers with Authsome's added where only this request sends them.

    httpx builds a redirect's request from a copy of the header list
    (``Headers(request.headers)``) and its transports send ``headers.raw``.
    Authsome's headers are kept out of the list and joined in ``raw`` only,
    so no copy (a redirect, ``next_request``) ever carries them, and event
    hooks or logs that look at ``request.headers`` never see a secret.
    """

    def __init__(self, headers: httpx.Headers, added: Mapping[str, str]) -> None:
        super().__init__(headers)
        self._added = httpx.Headers(added)
        for name in added:
            self.pop(name, None)  # Authsome's value replaces the caller's

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return [*super().raw, *self._added.raw]


def _with_headers(request: httpx.Request, added: Mapping[str, str]) -> httpx.Request:
    if added:
        request.headers = _RequestOnlyHeaders(request.headers, added)
    return request


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
            added = self._client.headers_for(
                str(request.url), method=request.method, connection=self._connection
            )
            request = _with_headers(request, added)
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if request.url.scheme == "https":
            if self._async_client is None:
                self._async_client = AsyncClient()
            added = await self._async_client.headers_for(
                str(request.url), method=request.method, connection=self._connection
            )
            request = _with_headers(request, added)
        yield request

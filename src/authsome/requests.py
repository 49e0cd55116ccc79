"""``authsome.requests.Auth``: credentials added to each requests call, no proxy needed.

    import requests
    import authsome.requests

    requests.get("https://api.openai.com/v1/models", auth=authsome.requests.Auth())

Each ``https://`` request gets the headers ``Client.headers_for`` returns
(nothing for hosts no provider claims; plain ``http://`` never gets any).
When a response redirects to another origin, the added headers are removed
before requests follows it, so a credential never reaches another host.
Needs the ``requests`` package.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from requests import PreparedRequest, Response
from requests.auth import AuthBase

from authsome.client.library import Client

__all__ = ["Auth"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class Auth(AuthBase):
    """A ``requests`` auth asking the Authsome daemon for each request's headers.

    :param client: a ``Client`` to use; one is made on first use otherwise.
    :param connection: use this connection instead of the provider's default.
    """

    def __init__(self, client: Client | None = None, *, connection: str | None = None) -> None:
        self._client = client
        self._connection = connection

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        url = request.url or ""
        if urlsplit(url).scheme.lower() != "https":
            return request
        if self._client is None:
            self._client = Client()
        added = self._client.headers_for(
            url, method=request.method or "GET", connection=self._connection
        )
        request.headers.update(added)
        if added:
            request.register_hook("response", _RedirectGuard(_origin(url), list(added)))
        return request


class _RedirectGuard:
    """Drops the added headers before requests follows a redirect to another origin."""

    def __init__(self, origin: tuple[str, str, int | None], names: list[str]) -> None:
        self._origin = origin
        self._names = names

    def __call__(self, response: Response, **_kwargs: Any) -> Response:
        location = response.headers.get("location") if response.is_redirect else None
        if location and _origin(urljoin(response.url, location)) != self._origin:
            for name in self._names:
                response.request.headers.pop(name, None)
        return response

"""``authsome.Client`` and ``authsome.AsyncClient``: Authsome for Python agents.

    from authsome import Client

    with Client() as authsome:
        headers = authsome.headers_for("https://api.openai.com/v1/models")

A client finds its home, identity and daemon the way the CLI does
(``AUTHSOME_HOME``, ``AUTHSOME_IDENTITY``, ``AUTHSOME_BASE_URL``; a local
daemon is started if none runs) and signs every call with the identity's key.
``headers_for`` gets the same decision as the proxy (provider matching, the
identity's grant, the default connection, audit). ``get_credential`` hands
out a raw secret only when the identity's grant allows ``reveal``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from authsome.client.api import DaemonClient
from authsome.client.async_api import AsyncDaemonClient
from authsome.client.connect import discover
from authsome.errors import CredentialUnavailable
from authsome.home import HomeLayout

#: The field used as "the" credential, in order of preference.
PRIMARY_FIELDS = ("access_token", "api_key")


def _layout(home: str | Path | None) -> HomeLayout:
    if home is None:
        return HomeLayout.from_env()
    return HomeLayout(Path(home).expanduser().absolute())


def _primary(revealed: dict[str, Any]) -> str:
    fields: dict[str, str] = revealed["fields"]
    for name in PRIMARY_FIELDS:
        if name in fields:
            return fields[name]
    raise CredentialUnavailable(
        f"{revealed['provider']}/{revealed['connection']} holds no token or API key"
    )


class Client:
    """A synchronous Authsome client; thread-safe, close it (or use ``with``) when done.

    :param home: the Authsome home (default ``AUTHSOME_HOME`` or ``~/.authsome``).
    :param identity: the identity handle (default ``AUTHSOME_IDENTITY``, else the home's default).
    :param base_url: the daemon (default ``AUTHSOME_BASE_URL``, else this home's daemon).
    :param autostart: start a local daemon when none answers.
    """

    def __init__(
        self,
        *,
        home: str | Path | None = None,
        identity: str | None = None,
        base_url: str | None = None,
        autostart: bool = True,
    ) -> None:
        url, key = discover(
            _layout(home), autostart=autostart, identity=identity, base_url=base_url
        )
        self._api = DaemonClient(url, key)

    @property
    def base_url(self) -> str:
        return self._api.base_url

    def headers_for(
        self, url: str, *, method: str = "GET", connection: str | None = None
    ) -> dict[str, str]:
        """The headers to add to a request for ``url``; ``{}`` when no provider matches.

        Raises ``OperationNotAllowed`` when the identity's grant excludes the
        matching provider, ``CredentialUnavailable`` when there is no usable
        connection, ``InvalidInput`` for a URL that is not ``https://``.
        """
        answer = self._api.resolve(url, method=method, connection=connection)
        return dict(answer["headers"])

    def get_credential(self, provider: str, connection: str | None = None) -> str:
        """The raw token or API key of a connection (default: the provider's default).

        Only when the identity's grant allows ``reveal``; audited as ``reveal``.
        Prefer ``headers_for``: the secret then never sits in your variables.
        """
        return _primary(self._api.reveal(provider, connection))

    def whoami(self) -> dict[str, Any]:
        """The identity, its principal, role, vault and grant."""
        return self._api.whoami()

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of ``Client``; finds the daemon on first use.

    async with AsyncClient() as authsome:
        headers = await authsome.headers_for("https://api.openai.com/v1/models")
    """

    def __init__(
        self,
        *,
        home: str | Path | None = None,
        identity: str | None = None,
        base_url: str | None = None,
        autostart: bool = True,
    ) -> None:
        self._options: dict[str, Any] = {
            "identity": identity,
            "base_url": base_url,
            "autostart": autostart,
        }
        self._home = home
        self._api: AsyncDaemonClient | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> AsyncDaemonClient:
        async with self._lock:
            if self._api is None:
                # Discovery reads files and may start a daemon: keep it off the loop.
                url, key = await asyncio.to_thread(discover, _layout(self._home), **self._options)
                self._api = AsyncDaemonClient(url, key)
            return self._api

    async def headers_for(
        self, url: str, *, method: str = "GET", connection: str | None = None
    ) -> dict[str, str]:
        """As ``Client.headers_for``."""
        api = await self._client()
        answer = await api.resolve(url, method=method, connection=connection)
        return dict(answer["headers"])

    async def get_credential(self, provider: str, connection: str | None = None) -> str:
        """As ``Client.get_credential``."""
        api = await self._client()
        return _primary(await api.reveal(provider, connection))

    async def whoami(self) -> dict[str, Any]:
        api = await self._client()
        return await api.whoami()

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

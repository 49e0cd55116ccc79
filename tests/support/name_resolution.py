"""Point host names at loopback ports, for clients that connect directly (no proxy).

Library tests call ``https://api.openai.com/…`` for real; this sends those
connections to the local HTTPS stand-in instead of the network.

    restore = route_names({"api.openai.com": ("127.0.0.1", 40123)})
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

ENV = "AUTHSOME_TEST_RESOLVE"  # "host=ip:port,host=ip:port" for subprocesses


def route_names(mapping: dict[str, tuple[str, int]]) -> Callable[[], None]:
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in mapping:
            host, port = mapping[name]
        return original(host, port, *args, **kwargs)

    # anyio (httpx.AsyncClient) resolves the name but connects to the URL's port:
    # send loopback connections for port 443 to the mapped port as well.
    ports = {(ip, 443): (ip, port) for ip, port in mapping.values()}
    original_connect = asyncio.BaseEventLoop.create_connection

    async def create_connection(
        self: Any, factory: Any, host: Any = None, port: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        host, port = ports.get((host, port), (host, port))
        return await original_connect(self, factory, host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    asyncio.BaseEventLoop.create_connection = create_connection  # type: ignore[method-assign]

    def restore() -> None:
        socket.getaddrinfo = original
        asyncio.BaseEventLoop.create_connection = original_connect  # type: ignore[method-assign]

    return restore


def encode(mapping: dict[str, tuple[str, int]]) -> str:
    return ",".join(f"{name}={ip}:{port}" for name, (ip, port) in mapping.items())


def route_names_from_env() -> None:
    """Used by ``docs_shim/sitecustomize.py`` in documentation-example subprocesses."""
    mapping = {}
    for item in filter(None, os.environ.get(ENV, "").split(",")):
        name, _, target = item.partition("=")
        ip, _, port = target.rpartition(":")
        mapping[name] = (ip, int(port))
    route_names(mapping)

"""ASGI guards that run before routing: the Host check and the body limit.

The Host check stops DNS rebinding (DESIGN §2): a page on evil.test that
resolves to 127.0.0.1 still sends ``Host: evil.test``. The body limit refuses
oversized requests by their ``Content-Length`` before reading them, and cuts
off chunked ones as soon as they pass the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from authsome.config import LOOPBACK_NAMES
from authsome.errors import AuthsomeError, HostNotAllowed, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def allowed_host_names(public_url: str | None) -> frozenset[str]:
    names = set(LOOPBACK_NAMES)
    if public_url:
        host = urlsplit(public_url).hostname
        if host:
            names.add(host.lower())
    return frozenset(names)


def host_name(host_header: str) -> str:
    """The name part of a Host header (``[::1]:7998`` → ``[::1]``)."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def send_error(send: Send, error: AuthsomeError) -> None:
    body = json.dumps(error.to_json()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: ASGIApp, *, allowed_hosts: frozenset[str], max_body: int) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.allowed_hosts:
            await send_error(send, HostNotAllowed("this daemon does not answer for that host name"))
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await send_error(
                send, PayloadTooLarge(f"request bodies are limited to {self.max_body} bytes")
            )
            return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise PayloadTooLarge(f"request bodies are limited to {self.max_body} bytes")
            return message

        return limited_receive

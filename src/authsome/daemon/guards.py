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


_DEFAULT_PORTS = {"https": 443, "http": 80}


def names_public_origin(host_header: str, public_url: str) -> bool:
    """Whether ``Host`` names the public URL's host *and* port.

    The port matters when the public host is a loopback name too
    (``https://localhost:8443`` in front of ``http://localhost:7998``).
    """
    public = urlsplit(public_url)
    public_port = public.port or _DEFAULT_PORTS.get(public.scheme)
    try:
        given = urlsplit("//" + host_header.strip())
        given_port = given.port or _DEFAULT_PORTS.get(public.scheme)
    except ValueError:  # a port that is not a number
        return False
    return (given.hostname or "") == (public.hostname or "") and given_port == public_port


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
        await _BodyLimit(self.app, self.max_body)(scope, receive, send)


class _BodyLimit:
    """Cuts a streamed body off past the limit and answers 413 itself.

    Raising from ``receive`` would reach the application, which may turn it
    into its own 400 or 500. Instead the application sees the client go away
    (``http.disconnect``), whatever it answers is dropped, and the guard
    sends 413 and closes the connection.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.seen = 0
        self.exceeded = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            if self.exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.max_body:
                    self.exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded:
                return
            self.started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not self.exceeded:
                raise
        if self.exceeded and not self.started:
            limit = f"request bodies are limited to {self.max_body} bytes"
            await send_error(send, PayloadTooLarge(limit))

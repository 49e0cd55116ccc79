"""A scripted authorization server for flow unit tests (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx

from authsome.flows.http import OutboundHttp

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


class Recorder:
    """Answers from a handler and remembers every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


def run(make: Callable[[httpx.AsyncClient], Awaitable[T]], handler: Handler) -> T:
    """Run one flow coroutine against ``handler`` through the real client factory."""

    async def go() -> T:
        outbound = OutboundHttp(transport=httpx.MockTransport(handler))
        async with outbound.client() as http:
            return await make(http)

    return asyncio.run(go())

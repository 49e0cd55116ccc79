"""What the API socket answers while the daemon is still opening its store.

The sockets are bound first (a port conflict is reported at once) and served
straight away, so a team's load balancer or orchestrator sees a live process
while a replica waits for its database server: ``/health`` answers with
``"status": "starting"`` and every other route with 503 ``daemon_starting``.
Once the state is open, every request goes to the real application.
"""

from __future__ import annotations

import json
from typing import Any

from authsome import __version__
from authsome.daemon.guards import ASGIApp, Receive, Scope, Send


class StartingGate:
    """An ASGI app that forwards to ``app`` once it is set."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            status, body = 200, _health()
        else:
            status, body = (
                503,
                {
                    "error": "daemon_starting",
                    "message": "the daemon is starting (opening its store); try again shortly",
                },
            )
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", b"1"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _health() -> dict[str, Any]:
    return {
        "status": "starting",
        "service": "authsome",
        "version": __version__,
        "deployment_id": None,
    }

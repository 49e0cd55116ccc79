"""Redirects never carry a credential the library added to another origin.

Two local HTTPS servers: a redirector answering for the providers' hosts
(api.acme.test, eu.api.acme.test, api.openai.com) and the echo stand-in for a
host no provider claims (unmatched.test). httpx copies every header but
``Authorization`` onto a redirect it follows, so ``X-Acme-Key`` would reach
unmatched.test unless ``authsome.httpx.Auth`` keeps it to its own request.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests

import authsome.httpx
import authsome.requests
from authsome import Client
from authsome.testing.upstream import TestCA
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway, open_gateway
from tests.support.name_resolution import route_names

PROVIDER_HOSTS = ("api.acme.test", "eu.api.acme.test", "api.openai.com")
OTHER = "https://unmatched.test/landing"


@dataclass
class Redirector:
    """HTTPS on 127.0.0.2: ``/to?url=U&code=N`` answers N with ``Location: U``,
    anything else echoes like the stand-in. ``seen`` keeps each request's headers."""

    ca: TestCA
    port: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                owner.seen.append({k.lower(): v for k, v in self.headers.items()})
                url = urlsplit(self.path)
                if url.path == "/to":
                    query = parse_qs(url.query)
                    self.send_response(int(query.get("code", ["302"])[0]))
                    self.send_header("Location", query["url"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                echo = json.dumps(
                    {"target": self.path, "headers": list(self.headers.items()), "body": len(body)}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(echo)))
                self.end_headers()
                self.wfile.write(echo)

            do_GET = do_POST = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        context = self.ca.server_context(*PROVIDER_HOSTS)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Setup:
    gateway: Gateway
    redirector: Redirector
    verify: ssl.SSLContext


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    import os

    ca = TestCA()
    with open_gateway(tmp_path, ca=ca) as gateway:
        for name in list(os.environ):
            if name.startswith("AUTHSOME_") or "proxy" in name.lower():
                monkeypatch.delenv(name)
        monkeypatch.setenv("AUTHSOME_HOME", str(gateway.daemon.home))
        redirector = Redirector(ca)
        routes = {name: ("127.0.0.2", redirector.port) for name in PROVIDER_HOSTS}
        routes["unmatched.test"] = ("127.0.0.1", gateway.upstream.port)
        restore = route_names(routes)
        try:
            yield Setup(gateway, redirector, ca.client_context())
        finally:
            restore()
            redirector.close()


def _to(target: str, code: int = 302, host: str = "api.acme.test") -> str:
    return str(httpx.URL(f"https://{host}/to", params={"url": target, "code": str(code)}))


def _headers(response: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in response.json()["headers"]}


def test_httpx_followed_redirects_carry_no_added_header(setup: Setup) -> None:
    with (
        Client() as client,
        httpx.Client(
            auth=authsome.httpx.Auth(client), verify=setup.verify, follow_redirects=True
        ) as http,
    ):
        away = http.get(_to(OTHER))
        assert setup.redirector.seen[-1]["x-acme-key"] == ACME_KEY  # it was injected
        assert away.url == OTHER and "x-acme-key" not in _headers(away)
        posted = http.post(_to(OTHER, 307), content=b"payload")
        assert posted.json()["method"] == "POST" and posted.json()["body_bytes"] == 7
        assert "x-acme-key" not in _headers(posted)
        openai = http.get(_to(OTHER, host="api.openai.com"))
        assert setup.redirector.seen[-1]["authorization"] == f"Bearer {OPENAI_KEY}"
        assert "authorization" not in _headers(openai)
        # Even on the same origin the followed redirect goes without them (documented).
        same = http.get(_to("/echo"))
        assert same.json()["target"] == "/echo" and "x-acme-key" not in _headers(same)
        assert "x-acme-key" not in same.request.headers  # nor are they kept in view


def test_httpx_next_request_asks_again_for_the_new_url(setup: Setup) -> None:
    with (
        Client() as client,
        httpx.Client(auth=authsome.httpx.Auth(client), verify=setup.verify) as http,
    ):
        for target, expected in (
            ("/echo", ACME_KEY),
            ("https://eu.api.acme.test/moved", ACME_KEY),
            (OTHER, None),
        ):
            first = http.get(_to(target))
            assert first.status_code == 302 and first.next_request is not None
            followed = http.send(first.next_request)
            assert _headers(followed).get("x-acme-key") == expected, target


def test_httpx_async_followed_redirect_carries_no_added_header(setup: Setup) -> None:
    async def main() -> httpx.Response:
        auth = authsome.httpx.Auth()
        async with httpx.AsyncClient(auth=auth, verify=setup.verify, follow_redirects=True) as http:
            return await http.get(_to(OTHER))

    away = asyncio.run(main())
    assert setup.redirector.seen[-1]["x-acme-key"] == ACME_KEY
    assert away.url == OTHER and "x-acme-key" not in _headers(away)


def test_requests_strips_added_headers_across_origins_only(setup: Setup) -> None:
    ca_file = str(setup.gateway.ca_file)
    with requests.Session() as session:
        session.auth = authsome.requests.Auth()
        away = session.get(_to(OTHER), verify=ca_file, timeout=10)
        assert setup.redirector.seen[-1]["x-acme-key"] == ACME_KEY
        assert away.url == OTHER and "x-acme-key" not in _headers(away)
        same = session.get(_to("/echo"), verify=ca_file, timeout=10)
        assert _headers(same)["x-acme-key"] == ACME_KEY

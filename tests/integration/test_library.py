"""The Python library against a real daemon: headers_for, get_credential and grants;
authsome.httpx.Auth and authsome.requests.Auth against a local HTTPS upstream."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

import authsome.httpx
import authsome.requests
from authsome import AsyncClient, Client
from authsome.errors import CredentialUnavailable, InvalidInput, OperationNotAllowed
from tests.conftest import PASSWORD
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, UPSTREAM_NAMES, Gateway
from tests.support.cli import audit_rows, eventually
from tests.support.name_resolution import route_names


@pytest.fixture
def routed(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """The gateway, with the upstream's names pointing at it, and a clean environment."""
    import os

    for name in list(os.environ):
        if name.startswith("AUTHSOME_") or "proxy" in name.lower():
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUTHSOME_HOME", str(gateway.daemon.home))
    restore = route_names({name: ("127.0.0.1", gateway.upstream.port) for name in UPSTREAM_NAMES})
    try:
        yield gateway
    finally:
        restore()


def _grant(gateway: Gateway, *args: str) -> None:
    result = gateway.daemon.cli(
        "identity", "grant", *args, "--password-stdin", input=PASSWORD + "\n"
    )
    assert result.code == 0, result.err


def _headers(echo: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in echo["headers"]}


def test_headers_for_matched_and_unmatched(routed: Gateway) -> None:
    with Client() as client:
        assert client.base_url == routed.daemon.url
        assert client.headers_for("https://api.openai.com/v1/models") == {
            "Authorization": f"Bearer {OPENAI_KEY}"
        }
        assert client.headers_for("https://eu.api.acme.test/x", method="POST") == {
            "X-Acme-Key": ACME_KEY
        }
        assert client.headers_for("https://evilacme.test/") == {}
        assert client.headers_for("https://unmatched.test/") == {}
        with pytest.raises(InvalidInput):
            client.headers_for("http://api.openai.com/v1/models")
        with pytest.raises(CredentialUnavailable):
            client.headers_for("https://api.openai.com/v1/models", connection="missing")

    def resolved() -> None:
        rows = audit_rows(routed.daemon.home, "credential_resolved")
        assert [r[2] for r in rows if r[0] == "success"] == ["openai", "acme"]

    eventually(resolved)


def test_grant_denial_and_reveal(routed: Gateway) -> None:
    with Client(home=routed.daemon.home) as client:
        with pytest.raises(OperationNotAllowed, match="reveal"):
            client.get_credential("openai")
        _grant(routed, "--provider", "acme")
        with pytest.raises(OperationNotAllowed):
            client.headers_for("https://api.openai.com/v1/models")
        assert client.headers_for("https://api.acme.test/") == {"X-Acme-Key": ACME_KEY}
        with pytest.raises(OperationNotAllowed):
            client.get_credential("acme")  # the provider is granted, reveal is not
        _grant(routed, "--provider", "acme", "--reveal")
        assert client.get_credential("acme") == ACME_KEY
        assert client.get_credential("acme", "default") == ACME_KEY
        with pytest.raises(OperationNotAllowed):
            client.get_credential("openai")  # reveal, but not this provider
        assert client.whoami()["grant"] == {
            "all_providers": False,
            "providers": ["acme"],
            "reveal": True,
        }

    def denied() -> None:
        rows = audit_rows(routed.daemon.home, "credential_resolved")
        assert [r[2] for r in rows if r[0] == "denied"] == ["openai"]

    eventually(denied)
    reveals = audit_rows(routed.daemon.home, "reveal")
    assert [(r[0], r[2]) for r in reveals if r[0] == "success"] == [("success", "acme")] * 2


def test_async_client(routed: Gateway) -> None:
    async def before_grant() -> dict[str, str]:
        async with AsyncClient() as client:
            headers = await client.headers_for("https://api.openai.com/v1/models")
            assert await client.headers_for("https://unmatched.test/") == {}
            with pytest.raises(CredentialUnavailable):
                await client.headers_for("https://api.openai.com/", connection="missing")
            with pytest.raises(OperationNotAllowed, match="reveal"):
                await client.get_credential("openai")
            return headers

    assert asyncio.run(before_grant()) == {"Authorization": f"Bearer {OPENAI_KEY}"}
    _grant(routed, "--provider", "acme", "--reveal")

    async def after_grant() -> str:
        async with AsyncClient(home=routed.daemon.home) as client:
            with pytest.raises(OperationNotAllowed):
                await client.headers_for("https://api.openai.com/v1/models")
            with pytest.raises(OperationNotAllowed):
                await client.get_credential("openai")
            assert (await client.whoami())["grant"]["reveal"] is True
            return await client.get_credential("acme", "default")

    assert asyncio.run(after_grant()) == ACME_KEY
    reveals = audit_rows(routed.daemon.home, "reveal")
    assert [(r[0], r[2]) for r in reveals if r[0] == "success"] == [("success", "acme")]


def test_httpx_auth_sync_and_async(routed: Gateway) -> None:
    verify = ssl.create_default_context(cafile=str(routed.ca_file))
    with Client() as client, httpx.Client(auth=authsome.httpx.Auth(client), verify=verify) as http:
        openai = http.get("https://api.openai.com/v1/models", headers={"Authorization": "x"})
        assert _headers(openai.json())["authorization"] == f"Bearer {OPENAI_KEY}"
        acme = http.post("https://eu.api.acme.test/v1/things", json={"a": 1})
        assert _headers(acme.json())["x-acme-key"] == ACME_KEY
        for url in ("https://evilacme.test/", "https://unmatched.test/"):
            echo = _headers(http.get(url).json())
            assert "authorization" not in echo and "x-acme-key" not in echo

    async def main() -> dict[str, Any]:
        auth = authsome.httpx.Auth()
        async with httpx.AsyncClient(auth=auth, verify=verify) as http:
            response = await http.get("https://api.acme.test/async")
            return dict(response.json())

    assert _headers(asyncio.run(main()))["x-acme-key"] == ACME_KEY


def test_requests_auth(routed: Gateway) -> None:
    auth = authsome.requests.Auth()
    verify = str(routed.ca_file)
    openai = requests.get("https://api.openai.com/v1/models", auth=auth, verify=verify, timeout=10)
    assert _headers(openai.json())["authorization"] == f"Bearer {OPENAI_KEY}"
    with requests.Session() as session:
        session.auth = auth
        acme = session.get("https://api.acme.test/v1", verify=verify, timeout=10)
        assert _headers(acme.json())["x-acme-key"] == ACME_KEY
        other = _headers(session.get("https://unmatched.test/", verify=verify, timeout=10).json())
        assert "x-acme-key" not in other and "authorization" not in other


def _redirect(url: str, location: str, headers: dict[str, str]) -> requests.Response:
    request = requests.Request("GET", url, headers=headers).prepare()
    response = requests.Response()
    response.status_code = 302
    response.url = url
    response.headers["Location"] = location
    response.request = request
    return response


def test_requests_auth_drops_headers_before_a_cross_origin_redirect() -> None:
    from authsome.requests import _RedirectGuard

    guard = _RedirectGuard(("https", "api.acme.test", None), ["X-Acme-Key"])
    same = guard(_redirect("https://api.acme.test/a", "/b", {"X-Acme-Key": "k", "Accept": "*"}))
    assert same.request.headers["X-Acme-Key"] == "k"
    away = guard(_redirect("https://api.acme.test/a", "https://evil.test/", {"X-Acme-Key": "k"}))
    assert "X-Acme-Key" not in away.request.headers
    downgrade = guard(
        _redirect("https://api.acme.test/a", "http://api.acme.test/", {"X-Acme-Key": "k"})
    )
    assert "X-Acme-Key" not in downgrade.request.headers

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from authsome.client.pop_auth import PopAuth
from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import verify_proof
from authsome.errors import PopInvalid

BASE_URL = "http://127.0.0.1:7998"
KEY = IdentityKey.generate()


def daemon(request: httpx.Request) -> httpx.Response:
    """Stands in for the daemon: verifies the proof the way its dependency will."""
    proof = request.headers.get("DPoP")
    if proof is None:
        return httpx.Response(401, json={"error": "pop_missing"})
    try:
        verified = verify_proof(
            proof,
            method=request.method,
            url=str(request.url),
            body=request.content,
            now=time.time(),
        )
    except PopInvalid as exc:
        return httpx.Response(401, json={"error": exc.code, "message": exc.message})
    return httpx.Response(200, json={"jkt": verified.jkt, "jti": verified.jti})


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=BASE_URL, auth=PopAuth(KEY), transport=httpx.MockTransport(daemon)
    ) as client:
        yield client


def test_get_is_signed(client: httpx.Client) -> None:
    response = client.get("/v1/connections", params={"provider": "github"})
    assert response.status_code == 200, response.text
    assert response.json()["jkt"] == KEY.thumbprint()


def test_json_body_is_bound_by_bsh(client: httpx.Client) -> None:
    response = client.post("/v1/connections", json={"provider": "github", "name": "work"})
    assert response.status_code == 200, response.text


def test_streamed_body_is_read_before_signing(client: httpx.Client) -> None:
    response = client.put("/v1/blob", content=iter([b"first,", b"second"]))
    assert response.status_code == 200, response.text


def test_each_request_gets_a_fresh_proof(client: httpx.Client) -> None:
    jtis = {client.get("/health").json()["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_a_body_changed_after_signing_is_refused() -> None:
    """The handler would accept any proof; this checks the proof really binds the body."""

    def tamper(request: httpx.Request) -> httpx.Response:
        tampered = httpx.Request(
            request.method, request.url, headers=request.headers, content=b'{"evil":1}'
        )
        return daemon(tampered)

    with httpx.Client(
        base_url=BASE_URL, auth=PopAuth(KEY), transport=httpx.MockTransport(tamper)
    ) as client:
        response = client.post("/v1/connections", json={"provider": "github"})
    assert response.status_code == 401
    assert response.json()["error"] == "pop_invalid"
    assert "bsh" in response.json()["message"]


def test_async_client_is_signed_too() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"streamed "
        yield b"asynchronously"

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=BASE_URL, auth=PopAuth(KEY), transport=httpx.MockTransport(daemon)
        ) as client:
            return [
                await client.get("/v1/connections"),
                await client.post("/v1/x", content=body()),
            ]

    for response in asyncio.run(run()):
        assert response.status_code == 200, response.text


def test_import_stays_light() -> None:
    code = "import sys, json, authsome.client.pop_auth; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert "authsome.crypto.pop" in loaded
    heavy = {
        "authsome.crypto.envelope",
        "authsome.crypto.masterkey",
        "cryptography.hazmat.primitives.ciphers.aead",
    }
    assert not heavy & loaded

"""A hostile process on the same machine: no identity key, foreign Host/Origin, stolen run
tokens, path tricks. It must never obtain a credential, and never cause a 5xx."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import Target
from tests.support.pop import home_key, signed

# Answer without a proof by design (DESIGN §2): liveness, schema, identity registration.
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("POST", "/identities")}
# A pending identity may read its own status and claim itself (with a password).
PENDING_ALLOWED = {("GET", "/identities/self"), ("POST", "/identities/self/claim")}


def _operations(target: Target) -> list[tuple[str, str]]:
    schema = httpx.get(target.daemon.url + "/openapi.json", timeout=10).json()
    found = []
    for path, item in schema["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path))
    assert ("POST", "/resolve") in found and ("GET", "/connections") in found
    return sorted(found)


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "default" if "name" in m.group() else "openai", path)


def _request(
    target: Target, method: str, path: str, *, proof: str | None = None, **extra: Any
) -> httpx.Response:
    url = target.daemon.url + _fill(path)
    body = b'{"url": "https://api.openai.com/v1/models", "provider": "openai"}'
    headers = {"content-type": "application/json", **extra.pop("headers", {})}
    if proof is not None:
        headers["DPoP"] = proof
    content = body if method in {"POST", "PUT", "PATCH"} else None
    return httpx.request(method, url, content=content, headers=headers, timeout=30)


def _register(key: IdentityKey, target: Target) -> None:
    """Register ``key`` as a pending identity: any local process may (POST /identities)."""
    registered = signed(key, "POST", target.daemon.url + "/identities", body=b"{}")
    assert registered.status_code == 201, registered.text
    assert registered.json()["status"] == "pending"


def test_without_the_identity_key_no_route_yields_a_credential(target: Target) -> None:
    stranger = IdentityKey.generate()
    unclaimed = IdentityKey.generate()
    _register(unclaimed, target)
    for method, path in _operations(target):
        url = target.daemon.url + _fill(path)
        body = b'{"url": "https://api.openai.com/v1/models", "provider": "openai"}'
        has_body = method in {"POST", "PUT", "PATCH"}
        attempts = {
            "no proof": None,
            "stranger's proof": sign_proof(
                stranger, method=method, url=url, body=body if has_body else None
            ),
            "registered, unclaimed identity's proof": sign_proof(
                unclaimed, method=method, url=url, body=body if has_body else None
            ),
            "admin's proof for another URL": sign_proof(
                target.key, method=method, url=target.daemon.url + "/health"
            ),
        }
        for label, proof in attempts.items():
            response = _request(target, method, path, proof=proof)
            where = f"{method} {path} with {label}"
            assert response.status_code < 500, (where, response.text[:200])
            assert target.api_key not in response.text, where
            if (method, path) in PUBLIC:
                continue
            if label.startswith("registered"):
                if (method, path) in PENDING_ALLOWED:
                    continue  # its own status, or a claim that needs a password
                # A proof valid in every way but the identity's claim: refused as pending.
                assert response.status_code == 401, (where, response.status_code)
                assert response.json()["error"] == "identity_pending", (where, response.text)
            assert response.status_code in (401, 403, 404, 405, 422), (
                where,
                response.status_code,
            )


def test_foreign_host_cannot_drive_any_route(target: Target) -> None:
    pages = [("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")]
    for method, path in [*_operations(target), *pages]:
        response = _request(target, method, path, headers={"Host": "evil.test"})
        assert response.status_code == 421, (method, path, response.status_code)
        rebinding = _request(target, method, path, headers={"Host": "127.0.0.1.evil.test:80"})
        assert rebinding.status_code == 421


def _csrf(client: httpx.Client, page: str) -> str:
    answer = client.get(page, follow_redirects=True)
    assert answer.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert match, f"{page} carries a CSRF token"
    return match.group(1)


def test_foreign_origin_cannot_drive_the_browser_routes(target: Target) -> None:
    with httpx.Client(base_url=target.daemon.url, timeout=10) as client:
        csrf = _csrf(client, "/login")
        form = {"email": "admin@example.com", "password": target.password, "csrf": csrf}
        for headers in (
            {"Origin": "http://evil.test"},
            {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
            {"Referer": "http://evil.test/page"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            refused = client.post("/login", data=form, headers=headers)
            assert refused.status_code == 403, (headers, refused.status_code)
            assert "set-cookie" not in refused.headers or "session" not in refused.headers.get(
                "set-cookie", ""
            )
        signed_in = client.post("/login", data=form, headers={"Origin": target.daemon.url})
        assert signed_in.status_code in (200, 303), signed_in.status_code
        # Signed in: a state-changing form from elsewhere is still refused.
        csrf = _csrf(client, "/")
        out = client.post("/logout", data={"csrf": csrf}, headers={"Origin": "http://evil.test"})
        assert out.status_code == 403
        missing = client.post("/logout", data={"x": "1"}, headers={"Origin": target.daemon.url})
        assert missing.status_code == 403, "no CSRF token, no action"


def _start_run(target: Target) -> dict[str, Any]:
    response = signed(target.key, "POST", target.daemon.url + "/runs", body=b"{}")
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def _through_proxy(target: Target, run: dict[str, Any], token: str, tmp: Path) -> httpx.Response:
    ca = tmp / "run-ca.pem"
    ca.write_text(run["ca_pem"])
    proxy = f"http://run:{token}@127.0.0.1:{run['proxy_port']}"
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(proxy=proxy, verify=context, timeout=10) as client:
        return client.get("https://api.openai.com/v1/models")


def test_run_tokens_die_with_the_run_and_belong_to_their_identity(
    target: Target, tmp_path: Path
) -> None:
    run = _start_run(target)
    token = run["token"]
    target.ledger.planted.add(token)  # a run token is a secret too
    working = _through_proxy(target, run, token, tmp_path)
    assert working.status_code == 200
    assert target.api_key in working.text, "the proxy injects for a live run"
    target.ledger.planted.discard(token)  # the echo shows it only to this test

    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x", "", "run"):
        with pytest.raises(httpx.ProxyError):
            _through_proxy(target, run, forged, tmp_path)

    # Another identity (registered, not claimed) cannot end or reuse the run.
    stranger = IdentityKey.generate()
    registered = signed(stranger, "POST", target.daemon.url + "/identities", body=b"{}")
    assert registered.status_code in (200, 201), registered.text
    end = signed(stranger, "DELETE", target.daemon.url + f"/runs/{run['run_id']}")
    assert end.status_code == 401
    assert _through_proxy(target, run, token, tmp_path).status_code == 200

    ended = signed(target.key, "DELETE", target.daemon.url + f"/runs/{run['run_id']}")
    assert ended.status_code == 204
    with pytest.raises(httpx.ProxyError):
        _through_proxy(target, run, token, tmp_path)


def _second_agent(target: Target, home: Path) -> IdentityKey:
    """Another active identity of the same principal: it shares the vault, not the run."""
    env = {"AUTHSOME_HOME": str(home), "AUTHSOME_BASE_URL": target.daemon.url}
    init = target.daemon.cli(
        "init",
        "--email",
        "admin@example.com",
        "--password-stdin",
        input=target.password + "\n",
        env=env,
    )
    target.ledger.record(init.out, init.err)
    target.ledger.watch_home(home)
    assert init.code == 0, init.err
    return home_key(home)


def _run_routes(target: Target, run_id: str) -> list[tuple[str, str, bytes]]:
    """The routes of ``authsome run --local-proxy``: one of them hands out headers."""
    base = f"{target.daemon.url}/runs/{run_id}"
    events = {
        "events": [
            {
                "method": "GET",
                "host": "api.openai.com",
                "path": "/",
                "status": 200,
                "outcome": "success",
                "duration_ms": 1.0,
            }
        ]
    }
    return [
        ("POST", base + "/resolve", b'{"host": "api.openai.com", "path": "/v1/models"}'),
        ("GET", base + "/providers", b""),
        ("POST", base + "/events", json.dumps(events).encode()),
    ]


def test_a_strangers_proofs_on_the_run_routes_get_no_credential(
    target: Target, tmp_path: Path
) -> None:
    run = _start_run(target)
    target.ledger.planted.add(run["token"])
    routes = _run_routes(target, run["run_id"])
    owner = signed(target.key, *routes[0][:2], body=routes[0][2])
    assert owner.status_code == 200, owner.text
    assert target.api_key in owner.text, "the run's own identity is answered (control)"
    unclaimed = IdentityKey.generate()
    _register(unclaimed, target)
    strangers = {
        "unregistered key": (IdentityKey.generate(), 401),
        "registered, unclaimed identity": (unclaimed, 401),
        "another identity of the same principal": (_second_agent(target, tmp_path / "agent2"), 404),
    }
    try:
        for label, (key, expected) in strangers.items():
            for method, url, body in routes:
                response = signed(key, method, url, body=body)
                where = f"{method} {url} by {label}"
                assert response.status_code == expected, (
                    where,
                    response.status_code,
                    response.text,
                )
                assert target.api_key not in response.text, where
                assert "headers" not in response.json(), where
        assert signed(target.key, *routes[1][:2]).status_code == 200, "the run lives on"
    finally:
        ended = signed(target.key, "DELETE", target.daemon.url + f"/runs/{run['run_id']}")
        assert ended.status_code == 204


TRICKY_NAMES = [
    "../openai",
    "..",
    "a/../b",
    "nul\x00byte",
    "x" * 300,
    "d\u0435fault",  # Cyrillic e
    "\uff24\uff25\uff26\uff21\uff35\uff2c\uff34",  # fullwidth DEFAULT
    "default\u200b",  # zero-width space
    "default\n",
    "%2e%2e",
    "",
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_path_tricks_in_connection_and_provider_names_are_rejected(
    target: Target, name: str
) -> None:
    url = target.daemon.url
    store = signed(
        target.key,
        "POST",
        url + "/connections",
        body=json.dumps({"provider": "openai", "connection": name, "api_key": "sk-x" * 8}).encode(),
    )
    assert 400 <= store.status_code < 500, (name, store.status_code)
    provider = signed(
        target.key,
        "POST",
        url + "/connections",
        body=json.dumps({"provider": name, "api_key": "sk-x" * 8}).encode(),
    )
    assert 400 <= provider.status_code < 500
    run = signed(
        target.key,
        "POST",
        url + "/runs",
        body=json.dumps({"connections": {"openai": name}}).encode(),
    )
    assert 400 <= run.status_code < 500
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": "x",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": ["x.example.test"],
        "api_key": {"header_name": "X-Key"},
    }
    register = signed(
        target.key, "POST", url + "/providers", body=json.dumps({"definition": definition}).encode()
    )
    assert 400 <= register.status_code < 500, (name, register.status_code)
    quoted = httpx.URL(url).copy_with(raw_path=b"/connections/openai/" + _quote(name)).__str__()
    removed = signed(target.key, "DELETE", quoted)
    # 401 when the encoded name makes the signed URL differ from the one received.
    assert removed.status_code in (400, 401, 404, 405, 422), (name, removed.status_code)
    listed = signed(target.key, "GET", url + "/connections")
    names = {(c["provider"], c["name"]) for c in listed.json()}
    assert names == {("openai", "default")}, "nothing tricky was stored, nothing removed"


def _quote(name: str) -> bytes:
    from urllib.parse import quote

    return quote(name, safe="").encode() or b"%20"

"""The proxy end to end with real clients: curl, httpx, requests, urllib."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import requests

from authsome.proxy import Injection
from tests.unit.proxy.support import (
    SECRET,
    TOKEN,
    FakeBackend,
    ProxyThread,
    World,
    read_head,
    read_response,
)

API = "https://api.provider.test"
INJECT = {"api.provider.test": Injection(headers=((b"Authorization", SECRET),), provider="acme")}

Configure = Callable[..., FakeBackend]


def curl(world: World, *args: str, token: str = TOKEN, cacert: str | None = None) -> str:
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--proxy",
            world.proxy.url(token),
            "--cacert",
            cacert or str(world.proxy_ca_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


def header(echo: dict[str, object], name: str) -> list[str]:
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    return [value for key, value in pairs if key.lower() == name.lower()]


def test_curl_gets_the_header_injected_and_the_request_recorded(
    world: World, configure: Configure
) -> None:
    backend = configure(injections=INJECT)
    out = curl(world, f"{API}/v1/models?limit=2")
    echo = json.loads(out)
    assert echo["target"] == "/v1/models?limit=2"
    assert header(echo, "Authorization") == [SECRET.decode()]
    assert header(echo, "Host") == ["api.provider.test"]
    assert header(echo, "Proxy-Authorization") == []
    assert backend.decisions == [("GET", "api.provider.test", "/v1/models")]
    [record] = backend.records
    assert (record.method, record.host, record.path, record.status, record.outcome) == (
        "GET",
        "api.provider.test",
        "/v1/models",
        200,
        "success",
    )
    assert record.injection == INJECT["api.provider.test"]


def test_placeholder_header_is_replaced_whatever_its_case(
    world: World, configure: Configure
) -> None:
    configure(injections=INJECT)
    out = curl(
        world,
        "-H",
        "authorization: Bearer authsome-managed",
        "-H",
        "X-Other: kept",
        f"{API}/echo",
    )
    echo = json.loads(out)
    assert header(echo, "Authorization") == [SECRET.decode()]
    assert header(echo, "X-Other") == ["kept"]
    assert "authsome-managed" not in out


def test_httpx_client(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    with httpx.Client(proxy=world.proxy.url(), verify=world.client_context()) as client:
        for index in range(3):
            response = client.post(f"{API}/echo", json={"n": index})
            assert response.status_code == 200
            assert header(response.json(), "Authorization") == [SECRET.decode()]
            assert response.json()["body_bytes"] == len(json.dumps({"n": index}).replace(" ", ""))


def test_requests_client(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        session.proxies = {"https": world.proxy.url(), "http": world.proxy.url()}
        session.verify = str(world.proxy_ca_file)
        response = session.get(f"{API}/echo", headers={"Authorization": "Bearer authsome-managed"})
        assert header(response.json(), "Authorization") == [SECRET.decode()]
        upload = session.put(f"{API}/upload", data=b"x" * 100_000)
        assert upload.json()["bytes"] == 100_000


def test_urllib_client(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": world.proxy.url()}),
        urllib.request.HTTPSHandler(context=world.client_context()),
    )
    with opener.open(f"{API}/echo", timeout=10) as response:
        echo = json.loads(response.read())
    assert header(echo, "Authorization") == [SECRET.decode()]


def test_unmatched_host_is_tunnelled_untouched(world: World, configure: Configure) -> None:
    backend = configure(injections=INJECT)
    # Only the upstream's own CA is trusted: this works only through a raw tunnel.
    out = curl(world, "https://other.provider.test/echo", cacert=str(world.test_ca_file))
    echo = json.loads(out)
    assert header(echo, "Authorization") == []
    assert backend.records == []
    assert backend.decisions == []
    # ... and the Authsome CA alone is not enough for it.
    out = curl(world, "https://other.provider.test/echo")
    assert "SSL certificate problem" in out or "certificate" in out.lower()


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_wrong_or_missing_proxy_token_gets_407(
    world: World, configure: Configure, token: str
) -> None:
    configure(injections=INJECT)
    proxy = f"http://run:{token}@127.0.0.1:{world.proxy.port}" if token else None
    url = proxy or f"http://127.0.0.1:{world.proxy.port}"
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--proxy", url, f"{API}/"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout == "407"
    with requests.Session() as session:
        response = session.get("http://plain.example/", proxies={"http": url}, timeout=10)
        assert response.status_code == 407
        assert response.headers["Proxy-Authenticate"] == 'Basic realm="authsome"'


def test_denied_request_gets_status_and_message_and_never_reaches_upstream(
    world: World, configure: Configure
) -> None:
    backend = configure(
        injections={
            "api.provider.test": Injection(
                deny_status=403, deny_message="acme is not granted to this agent"
            )
        }
    )
    before = world.echo.connections
    with httpx.Client(proxy=world.proxy.url(), verify=world.client_context()) as client:
        response = client.get(f"{API}/admin?x=1")
        assert response.status_code == 403
        assert response.text.strip() == "acme is not granted to this agent"
        assert response.headers["content-type"].startswith("text/plain")
        # The connection stays usable after a denial.
        assert client.get(f"{API}/again").status_code == 403
    assert world.echo.connections == before
    assert [(r.path, r.status, r.outcome) for r in backend.records] == [
        ("/admin", 403, "denied"),
        ("/again", 403, "denied"),
    ]


def test_plain_http_to_a_matched_host_is_refused(world: World, configure: Configure) -> None:
    backend = configure(injections=INJECT)
    response = requests.get(
        "http://api.provider.test/v1/x?secret=1", proxies={"http": world.proxy.url()}, timeout=10
    )
    assert response.status_code == 403
    assert "only sent over HTTPS" in response.text
    [record] = backend.records
    assert (record.path, record.status, record.outcome) == ("/v1/x", 403, "denied")


def test_plain_http_to_other_hosts_is_forwarded(world: World, configure: Configure) -> None:
    from authsome.testing.upstream import HttpsEchoServer

    with HttpsEchoServer(tls=False) as plain:
        backend = configure(addresses={"plain.example": ("127.0.0.1", plain.port)})
        with requests.Session() as session:
            session.proxies = {"http": world.proxy.url()}
            for _ in range(3):
                response = session.get("http://plain.example/echo?q=1", timeout=10)
                echo = response.json()
                assert echo["target"] == "/echo?q=1"
                assert header(echo, "Host") == ["plain.example"]
                assert header(echo, "Proxy-Authorization") == []
            upload = session.post("http://plain.example/upload", data=b"y" * 5000, timeout=10)
            assert upload.json()["bytes"] == 5000
        assert plain.connections == 1
    assert backend.records == []


def test_upstream_with_a_certificate_for_another_name_gets_502(
    world: World, configure: Configure
) -> None:
    backend = configure(intercept=("badcert.provider.test",))
    out = curl(world, "-i", "https://badcert.provider.test/echo")
    assert "HTTP/1.1 502 Bad Gateway" in out
    assert "badcert.provider.test:443" in out
    assert "Hostname mismatch" in out or "not valid for" in out
    [record] = backend.records
    assert record.outcome == "failure" and record.status == 502


def test_unreachable_upstream_gets_502_naming_the_host(world: World, configure: Configure) -> None:
    backend = configure(addresses={"api.provider.test": ("127.0.0.1", 1)})
    out = curl(world, "-i", f"{API}/echo")
    assert "HTTP/1.1 502 Bad Gateway" in out
    assert "cannot reach api.provider.test:443" in out
    assert backend.records[0].outcome == "failure"
    configure(intercept=(), addresses={"other.provider.test": ("127.0.0.1", 1)})
    out = curl(world, "https://other.provider.test/echo")
    assert "502" in out


def test_tls_to_the_proxy_uses_a_strictly_valid_leaf(world: World, configure: Configure) -> None:
    configure(injections=INJECT)
    context = world.client_context()
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    sock = world.tunnel("api.provider.test")
    with context.wrap_socket(sock, server_hostname="api.provider.test") as tls:
        assert tls.selected_alpn_protocol() in (None, "http/1.1")
        tls.sendall(b"GET /echo HTTP/1.1\r\nHost: api.provider.test\r\n\r\n")
        head, body = read_response(tls)
    assert head.startswith(b"HTTP/1.1 200")
    assert SECRET in body


def test_stdlib_event_loop_and_a_socket_bound_by_the_caller(
    world: World, configure: Configure, tmp_path: Path
) -> None:
    backend = configure(injections=INJECT)
    sock = socket.create_server(("127.0.0.1", 0))
    proxy = ProxyThread(
        backend, world.proxy_ca, world.test_ca_file, loop=asyncio.new_event_loop(), sock=sock
    ).start()
    try:
        assert proxy.port == sock.getsockname()[1]
        payload = tmp_path / "payload"
        payload.write_bytes(os.urandom(1_000_000))
        result = subprocess.run(
            [
                "curl",
                "-sS",
                "--proxy",
                proxy.url(),
                "--cacert",
                str(world.proxy_ca_file),
                f"{API}/echo",
                "--data-binary",
                f"@{payload}",
                f"{API}/upload",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        echo, upload = result.stdout.split("}{")
        assert SECRET.decode() in echo
        assert hashlib.sha256(payload.read_bytes()).hexdigest() in upload
        # close() drops the connections still open.
        open_tunnel = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        auth = base64.b64encode(f"run:{TOKEN}".encode())
        open_tunnel.sendall(
            b"CONNECT api.provider.test:443 HTTP/1.1\r\nProxy-Authorization: Basic "
            + auth
            + b"\r\n\r\n"
        )
        assert read_head(open_tunnel).startswith(b"HTTP/1.1 200")
    finally:
        proxy.stop()
    with open_tunnel, contextlib.suppress(ConnectionResetError):
        assert open_tunnel.recv(10) == b""


@pytest.mark.parametrize(
    "target", ["bad..host:443", "api.provider.test:0", "api.provider.test", "[zz::1]:443"]
)
def test_bad_connect_targets_get_400(world: World, configure: Configure, target: str) -> None:
    configure(injections=INJECT)
    auth = base64.b64encode(f"run:{TOKEN}".encode())
    with socket.create_connection(("127.0.0.1", world.proxy.port), timeout=10) as sock:
        sock.sendall(
            f"CONNECT {target} HTTP/1.1\r\n".encode()
            + b"Proxy-Authorization: Basic "
            + auth
            + b"\r\n\r\n"
        )
        assert read_head(sock).startswith(b"HTTP/1.1 400")

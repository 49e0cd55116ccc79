"""Serving a team at a public URL (`daemon serve --public-url`) and clients of it.

No real public host can be bound here: the daemon listens on loopback with
``--public-url https://authsome.example.internal`` and the tests play the
TLS-terminating reverse proxy in front of it (forwarding the Host header).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authsome.testing.upstream import TestCA
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import (
    Daemon,
    base_env,
    processes_with_home_under,
    run_cli,
    start_daemon,
)
from tests.support.oauth_browser import ScriptedBrowser

PUBLIC = "https://authsome.example.internal"
PUBLIC_HOST = "authsome.example.internal"


@pytest.fixture(scope="module")
def public_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    home = tmp_path_factory.mktemp("public") / "home"
    daemon = start_daemon(home, "--host", "127.0.0.1", "--public-url", PUBLIC)
    try:
        yield daemon
    finally:
        daemon.stop()


def _port(daemon: Daemon) -> int:
    return int(urlsplit(daemon.url).port or 0)


# --- binding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--host", "0.0.0.0"), "needs --public-url"),
        (("--host", "::"), "needs --public-url"),
        (("--host", "0.0.0.0", "--public-url", "http://authsome.example.internal"), "https"),
        (("--host", "0.0.0.0", "--public-url", "https://authsome.example.internal/x"), "path"),
        (("--host", "0.0.0.0", "--public-url", "ftp://authsome.example.internal"), "https://"),
    ],
)
def test_serve_refuses_to_bind_beyond_loopback_without_a_public_url(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    env = base_env(tmp_path / "home")
    for command in ("serve", "start"):
        result = run_cli(("daemon", command, "--port", "0", "--proxy-port", "0", *args), env)
        assert result.code == 2, (command, result.err)
        assert expected in result.err
        assert not (tmp_path / "home" / "server" / "daemon.json").exists()


def test_public_url_errors_never_echo_a_password(tmp_path: Path) -> None:
    url = "https://admin:hunter2-secret@authsome.example.internal"
    result = run_cli(("daemon", "serve", "--public-url", url), base_env(tmp_path / "home"))
    assert result.code == 2
    assert "hunter2" not in result.err + result.out


def test_wildcard_bind_keeps_the_proxy_on_loopback(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "home", "--host", "0.0.0.0", "--public-url", PUBLIC)
    try:
        record = json.loads((daemon.home / "server" / "daemon.json").read_text())
        assert record["url"].startswith("http://127.0.0.1:")  # how local clients reach it
        assert record["proxy_host"] == "127.0.0.1"  # run tokens never cross the network
        init = daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
        assert init.code == 0, init.err
        run = daemon.cli("run", "--", "python", "-c", "import os; print(os.environ['HTTPS_PROXY'])")
        assert run.code == 0, run.err
        assert "@127.0.0.1:" in run.out
    finally:
        daemon.stop()


# --- Host check, cookies, links ----------------------------------------------------


def test_host_check_accepts_the_public_name_and_loopback_only(public_daemon: Daemon) -> None:
    url = f"{public_daemon.url}/health"
    for host in (PUBLIC_HOST, f"{PUBLIC_HOST}:443", "AUTHSOME.example.internal", "127.0.0.1"):
        assert httpx.get(url, headers={"Host": host}).status_code == 200, host
    for host in ("evil.test", "authsome.example.internal.evil.test", "example.internal"):
        answer = httpx.get(url, headers={"Host": host})
        assert answer.status_code == 421, host
        assert answer.json()["error"] == "host_not_allowed"


def test_cookies_are_secure_with_an_https_public_url(public_daemon: Daemon, daemon: Daemon) -> None:
    public = httpx.get(f"{public_daemon.url}/login", headers={"Host": PUBLIC_HOST})
    cookies = public.headers.get_list("set-cookie")
    assert cookies, "the login page sets its pre-session cookie"
    assert all("secure" in cookie.lower().split("; ") for cookie in cookies), cookies
    assert all("httponly" in cookie.lower() for cookie in cookies)
    local = httpx.get(f"{daemon.url}/login").headers.get_list("set-cookie")
    assert local and not any("secure" in cookie.lower().split("; ") for cookie in local)


def test_init_prints_a_claim_link_on_the_public_url(public_daemon: Daemon, tmp_path: Path) -> None:
    env = public_daemon.env | {"AUTHSOME_HOME": str(tmp_path / "agent")}
    env["AUTHSOME_BASE_URL"] = public_daemon.url
    result = run_cli(("init", "--no-wait"), env)
    assert result.code == 0, result.err
    assert f"{PUBLIC}/claim/" in result.out + result.err
    as_json = run_cli(("init", "--no-wait", "--json"), env | {"AUTHSOME_HOME": str(tmp_path / "b")})
    assert json.loads(as_json.out)["claim_url"].startswith(f"{PUBLIC}/claim/")


# --- clients ---------------------------------------------------------------------------


def _own_address_url() -> str:
    """``http://`` at this machine's own non-loopback address, on a port nothing listens on.

    The address is the one the default route would use (a UDP ``connect`` only picks
    the route, it sends nothing); a connection to it never leaves the machine and
    is refused at once. Without any route, ``0.0.0.0``: not loopback either, and
    the kernel answers for it locally as well.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))  # TEST-NET-3: never contacted
            address = probe.getsockname()[0]
        except OSError:
            address = "0.0.0.0"
    assert not ipaddress.ip_address(address).is_loopback
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as unused:
        unused.bind((address, 0))
        port = unused.getsockname()[1]
    return f"http://{address}:{port}"


@pytest.mark.parametrize(
    "base_url",
    [
        "https://authsome.example.internal",  # https: a team's TLS front, never a local daemon
        "http://authsome.example.invalid:7998",  # plain http, but a name that is not loopback
        "own-address",  # plain http to a non-loopback IP address (of this very machine)
    ],
)
def test_a_non_local_url_is_never_auto_started(tmp_path: Path, base_url: str) -> None:
    home = tmp_path / "home"
    if base_url == "own-address":
        base_url = _own_address_url()
    host = urlsplit(base_url).hostname or ""
    env = base_env(home, AUTHSOME_BASE_URL=base_url)
    for args in (("init", "--no-wait"), ("whoami",)):
        result = run_cli(args, env)
        if args == ("whoami",):
            assert result.code in (2, 9), result.err  # no identity yet, or no daemon
        else:
            assert result.code == 9, result.err
            assert host in result.err
    server = home / "server"
    assert not (server / "daemon.json").exists() and not (server / "daemon.log").exists()
    assert processes_with_home_under(home) == []  # no daemon started in the background


class TlsFront:
    """The team's TLS-terminating reverse proxy in miniature: TLS in, bytes to the daemon."""

    def __init__(self, context: ssl.SSLContext, target_port: int) -> None:
        self.context = context
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TlsFront:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        self.server = future.result(timeout=10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def __exit__(self, *_exc: object) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


def test_https_daemon_is_verified_against_the_configured_bundle(tmp_path: Path) -> None:
    ca = TestCA("Team CA")
    ca_file = ca.write_pem(tmp_path / "team-ca.pem")
    with TlsFront(ca.server_context("localhost"), 0) as front:
        url = f"https://localhost:{front.port}"
        daemon = start_daemon(tmp_path / "server", "--public-url", url)
        try:
            front.target_port = _port(daemon)
            env = daemon.env | {
                "AUTHSOME_HOME": str(tmp_path / "agent"),
                "AUTHSOME_BASE_URL": url,
            }
            untrusted = run_cli(("init", "--no-wait"), env)
            assert untrusted.code == 9
            assert "certificate" in untrusted.err and "AUTHSOME_CA_BUNDLE" in untrusted.err
            for variable in ("AUTHSOME_CA_BUNDLE", "SSL_CERT_FILE"):
                home = str(tmp_path / variable)
                trusted = run_cli(
                    ("init", "--no-wait", "--json"),
                    env | {variable: str(ca_file), "AUTHSOME_HOME": home},
                )
                assert trusted.code == 0, trusted.err
                assert json.loads(trusted.out)["status"] == "pending"
            missing = run_cli(
                ("whoami",),
                env
                | {
                    "AUTHSOME_CA_BUNDLE": str(tmp_path / "nope.pem"),
                    "AUTHSOME_HOME": str(tmp_path / "AUTHSOME_CA_BUNDLE"),
                },
            )
            assert missing.code == 2 and "nope.pem" in missing.err
        finally:
            daemon.stop()


# --- OAuth redirect URI ----------------------------------------------------------------


def test_oauth_redirect_uri_uses_the_public_url(tmp_path: Path) -> None:
    """Through dynamic registration (the registered redirect URI is the public one):
    the authorization server redirects to the public callback, the reverse proxy
    brings it to the daemon, and the code exchange (same redirect_uri) succeeds."""
    from tests.integration.oauth.conftest import open_env
    from tests.support.oauth_server import OAuthServer, available

    if not available():
        pytest.fail("needs node and `npm ci` (oidc-provider): see the README's test command")
    with OAuthServer() as server:
        envs = open_env(tmp_path, server, "--public-url", PUBLIC)
        env = next(envs)
        try:
            login = env.start_login("oauthmcp", "--no-browser")
            url = login.wait_for(r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)").group(1)
            query = parse_qs(urlsplit(url).query)
            assert query["redirect_uri"] == [f"{PUBLIC}/auth/callback/oauth"]
            browser = _public_browser(_port(env.daemon))
            try:
                page = browser.open(url)
            finally:
                browser.close()
            callback = f"GET {PUBLIC}/auth/callback/oauth?"
            assert any(step.startswith(callback) for step in page.visited), page.visited
            assert page.final.status_code == 200, page.final.text
            result = env.finish(login)
            assert result.code == 0, result.err
            exchanges = server.token_requests("authorization_code")
            assert exchanges and exchanges[-1]["ok"] is True
            connection = env.connection("oauthmcp")
            assert connection is not None and connection["status"] == "active"
        finally:
            with contextlib.suppress(StopIteration):
                next(envs)


class _ReverseProxy(httpx.BaseTransport):
    """Sends https://authsome.example.internal/... to the daemon, keeping the Host."""

    def __init__(self, port: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        request.headers["Host"] = PUBLIC_HOST
        return self.inner.handle_request(request)


def _public_browser(port: int) -> ScriptedBrowser:
    """A scripted browser whose requests to the public URL go through the "reverse proxy"."""
    browser = ScriptedBrowser()
    browser.http.close()
    browser.http = httpx.Client(timeout=15, trust_env=False, mounts={PUBLIC: _ReverseProxy(port)})
    return browser

"""A daemon, the real authorization server and an HTTPS stand-in for the providers' APIs."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from authsome.client.api import DaemonClient
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.conftest import EMAIL, PASSWORD
from tests.support import forked, store
from tests.support.daemon import AUTHSOME, CliResult, Daemon, start_daemon
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import STATIC_CLIENT, OAuthServer, require_server
from tests.support.pop import home_key


@pytest.fixture(autouse=True)
def _oauth_server_installed() -> None:
    """Every test here needs the server: skip without it, fail under CI (a conftest's
    ``pytestmark`` would not reach the test modules)."""
    require_server()


ROOT = Path(__file__).resolve().parents[3]
BURST = ROOT / "tests" / "support" / "burst_probe.py"
API_HOSTS = ("api.oauthco.test", "dev.oauthco.test", "mcp.oauthco.test")


def provider_definitions(server: OAuthServer) -> list[dict[str, Any]]:
    issuer = server.issuer
    common = {"schema_version": 1, "auth_type": "oauth2"}
    return [
        {
            **common,
            "name": "oauthco",
            "display_name": "OAuth Co",
            "flow": "pkce",
            "api_url": ["api.oauthco.test"],
            "oauth": {
                "authorization_url": f"{issuer}/auth",
                "token_url": f"{issuer}/token",
                "revocation_url": f"{issuer}/token/revocation",
                "device_authorization_url": f"{issuer}/device/auth",
                "scopes": ["openid", "offline_access", "read"],
            },
        },
        {
            **common,
            "name": "oauthdev",
            "display_name": "OAuth Devices",
            "flow": "device_code",
            "api_url": ["dev.oauthco.test"],
            "oauth": {
                "device_authorization_url": f"{issuer}/device/auth",
                "token_url": f"{issuer}/token",
                "revocation_url": f"{issuer}/token/revocation",
                "scopes": ["openid", "offline_access", "read"],
            },
        },
        {
            **common,
            "name": "oauthmcp",
            "display_name": "OAuth MCP",
            "flow": "dcr_pkce",
            "api_url": ["mcp.oauthco.test"],
            "oauth": {"base_url": server.mcp_resource, "scopes": ["offline_access", "read"]},
        },
    ]


class LoginProcess:
    """``authsome login …`` running in the background; its stderr is read as it comes."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], stdin: str | None) -> None:
        self.process, in_write, out_read, err_read = forked.start_piped(
            [AUTHSOME, "login", *args], env
        )
        assert in_write is not None
        with open(in_write, "w") as child_stdin:
            child_stdin.write(stdin or "")
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(err_read, self.err), daemon=True),
            threading.Thread(target=self._read, args=(out_read, self.out), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(fd: int, into: list[str]) -> None:
        with open(fd) as stream:  # text, universal newlines, as Popen(text=True) reads
            for line in stream:
                into.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, "".join(self.err))
            if found:
                return found
            if self.process.poll() is not None and not any(t.is_alive() for t in self._threads):
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not printed; stderr: {''.join(self.err)}")

    def finish(self, timeout: float = 60) -> CliResult:
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return CliResult(code, "".join(self.out), "".join(self.err))


@dataclass
class OAuthEnv:
    server: OAuthServer
    daemon: Daemon
    upstream: HttpsEchoServer
    tmp: Path
    outputs: list[str] = field(default_factory=list)

    def cli(self, *args: str, input: str | None = None, timeout: float = 60) -> CliResult:
        result = self.daemon.cli(*args, input=input, timeout=timeout)
        self.outputs.extend([result.out, result.err])
        return result

    def start_login(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> LoginProcess:
        """``authsome login ARGS``; ``env`` replaces the daemon's environment when given."""
        return LoginProcess(args, self.daemon.env if env is None else env, stdin)

    def finish(self, login: LoginProcess) -> CliResult:
        result = login.finish()
        self.outputs.extend([result.out, result.err])
        return result

    def pkce_login(self, provider: str = "oauthco", *extra: str, client: bool = True) -> CliResult:
        """A complete browser login through the daemon's callback."""
        stdin = f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n" if client else None
        login = self.start_login(provider, "--no-browser", "--client-stdin", *extra, stdin=stdin)
        url = login.wait_for(r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)").group(1)
        with ScriptedBrowser() as browser:
            page = browser.open(url)
        assert page.final.status_code == 200, page.final.text
        result = self.finish(login)
        assert result.code == 0, result.err
        return result

    def api(self) -> DaemonClient:
        """A signed client in this process (faster than the CLI for set-up and checks)."""
        return DaemonClient(self.daemon.url, home_key(self.daemon.home))

    def connection(self, provider: str, name: str = "default") -> dict[str, Any] | None:
        with self.api() as api:
            for item in api.connections():
                if item["provider"] == provider and item["name"] == name:
                    return dict(item)
        return None

    def call_api(self, host: str = "api.oauthco.test") -> dict[str, Any]:
        """One request through `authsome run`: status, the Authorization it carried, text."""
        return self.burst(1, host)[0]

    def burst(self, count: int, host: str = "api.oauthco.test") -> list[dict[str, Any]]:
        url = f"https://{host}/v1/burst"
        result = self.daemon.cli(
            "run", "--", sys.executable, str(BURST), url, str(count), timeout=120
        )
        # stdout is the upstream's echo of the injected header: that one holds the token.
        self.outputs.append(result.err)
        assert result.code == 0, result.err
        answers: list[dict[str, Any]] = json.loads(result.out)
        return answers

    def db(self) -> Any:
        return store.connect(self.daemon.home)

    def audit_events(self) -> list[tuple[str, str, str | None]]:
        with self.db() as db:
            rows = db.execute("SELECT event, outcome, provider FROM audit_events ORDER BY id")
            return [(r[0], r[1], r[2]) for r in rows]

    def assert_no_secrets_leaked(self) -> None:
        """No token, code or client secret in the daemon log or any CLI output."""
        texts = [self.daemon.log_text(), *self.outputs]
        for secret in self.server.secrets():
            for text in texts:
                assert secret not in text, "a secret value was written out"


def wait_until_expired(expires_at: str, margin: float = 0.6) -> None:
    from datetime import datetime

    when = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    time.sleep(max(0.0, when - time.time() + margin))


def register_providers(env: OAuthEnv) -> None:
    with env.api() as api:
        for definition in provider_definitions(env.server):
            api.register_provider(definition)


@pytest.fixture
def oauth_server(request: pytest.FixtureRequest) -> Iterator[OAuthServer]:
    """The authorization server; ``@pytest.mark.access_ttl(4)`` for short-lived tokens,
    ``@pytest.mark.device(interval=3, ttl=5)`` for the device flow's timing."""
    marker = request.node.get_closest_marker("access_ttl")
    device = request.node.get_closest_marker("device")
    timing = device.kwargs if device else {}
    with OAuthServer(
        access_ttl=marker.args[0] if marker else 300,
        device_interval=timing.get("interval", 1),
        device_ttl=timing.get("ttl", 600),
    ) as server:
        yield server


def open_env(
    tmp_path: Path,
    server: OAuthServer,
    *daemon_args: str,
    daemon_env: dict[str, str] | None = None,
) -> Iterator[OAuthEnv]:
    """The ``oauth_env`` set-up, the daemon started with ``daemon_args`` and ``daemon_env``."""
    ca = TestCA()
    ca_file = ca.write_pem(tmp_path / "upstream-ca.pem")
    with HttpsEchoServer(ca, API_HOSTS) as upstream:
        resolve = [f"--proxy-resolve={name}=127.0.0.1:{upstream.port}" for name in API_HOSTS]
        daemon = start_daemon(
            tmp_path / "home", *resolve, f"--upstream-ca={ca_file}", *daemon_args, env=daemon_env
        )
        env = OAuthEnv(server, daemon, upstream, tmp_path)
        try:
            init = env.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
            assert init.code == 0, init.err
            register_providers(env)
            yield env
        finally:
            daemon.stop()
            env.daemon.stop()  # a test may have replaced it (a restart)


@pytest.fixture
def oauth_env(tmp_path: Path, oauth_server: OAuthServer) -> Iterator[OAuthEnv]:
    """Claimed identity, providers oauthco (pkce), oauthdev (device), oauthmcp (dcr)."""
    yield from open_env(tmp_path, oauth_server)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "access_ttl(seconds): access-token lifetime at the server")
    config.addinivalue_line(
        "markers", "device(interval=, ttl=): the server's device-flow interval and expires_in"
    )

"""More real clients as children of `authsome run`, each in a clean environment.

The openai SDK, Node's fetch, a WebSocket client and git over smart HTTP;
curl, requests, httpx and urllib are in ``test_run_injection.py``. Every
child gets only what `authsome run` gives it (proxy URL, CA bundle,
placeholders) and each upstream must see the real credential.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from authsome.testing.upstream import TestCA
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway, open_gateway
from tests.support.daemon import CliResult

ROOT = Path(__file__).resolve().parents[2]
NODE_PROXY_ENV = (22, 21)  # first Node release line that honours NODE_USE_ENV_PROXY

OPENAI_CHILD = """
import json, os
from openai import OpenAI
client = OpenAI()  # OPENAI_API_KEY=authsome-managed and the proxy come from the environment
models = client.models.with_raw_response.list()
chat = client.chat.completions.with_raw_response.create(
    model="gpt-test", messages=[{"role": "user", "content": "hi"}]
)
print(json.dumps({"key": os.environ["OPENAI_API_KEY"], "base_url": str(client.base_url),
                  "models": models.http_response.json(), "chat": chat.http_response.json()}))
"""

WEBSOCKET_CHILD = """
import json
from websockets.sync.client import connect
with connect("wss://api.openai.com/ws", open_timeout=10) as ws:  # proxy and CA from the env
    handshake = json.loads(ws.recv(timeout=10))
    ws.send("ping-text")
    text = ws.recv(timeout=10)
    ws.send(bytes(range(256)) * 1000)
    blob = ws.recv(timeout=10)
print(json.dumps({"headers": handshake["headers"], "text": text, "blob": len(blob)}))
"""

NODE_UNDICI_CHILD = """
const { EnvHttpProxyAgent, setGlobalDispatcher } = require("undici");
setGlobalDispatcher(new EnvHttpProxyAgent());
fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))
  .catch((e) => { console.error(String(e.cause || e)); process.exit(1); });
"""

NODE_FETCH_CHILD = """
fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))
  .catch((e) => { console.error(String(e.cause || e)); process.exit(1); });
"""


def _headers(echo: dict[str, object]) -> dict[str, str]:
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    return {str(name).lower(): str(value) for name, value in pairs}


def _run(gateway: Gateway, *argv: str, env: dict[str, str] | None = None) -> CliResult:
    result = gateway.daemon.cli("run", "--", *argv, env=env)
    gateway.outputs.extend([result.out, result.err])
    return result


def test_openai_sdk_gets_the_real_key_and_never_holds_it(gateway: Gateway) -> None:
    result = _run(gateway, "python", "-c", OPENAI_CHILD)
    assert result.code == 0, result.err
    seen = json.loads(result.out)
    assert seen["key"] == "authsome-managed"
    assert seen["base_url"].startswith("https://api.openai.com/")
    for call, method, target in (
        ("models", "GET", "/v1/models"),
        ("chat", "POST", "/v1/chat/completions"),
    ):
        assert (seen[call]["method"], seen[call]["target"]) == (method, target)
        assert _headers(seen[call])["authorization"] == f"Bearer {OPENAI_KEY}"
    assert OPENAI_KEY not in result.err


def test_openai_sdk_with_an_explicit_base_url(gateway: Gateway) -> None:
    base = {"OPENAI_BASE_URL": "https://api.openai.com/v1/"}
    result = _run(gateway, "python", "-c", OPENAI_CHILD, env=base)
    assert result.code == 0, result.err
    seen = json.loads(result.out)
    assert seen["base_url"] == "https://api.openai.com/v1/"
    assert _headers(seen["models"])["authorization"] == f"Bearer {OPENAI_KEY}"


def test_websocket_client_gets_the_header_on_the_upgrade(gateway: Gateway) -> None:
    result = _run(gateway, "python", "-c", WEBSOCKET_CHILD)
    assert result.code == 0, result.err
    seen = json.loads(result.out)
    assert _headers(seen)["authorization"] == f"Bearer {OPENAI_KEY}"
    assert seen["text"] == "ping-text" and seen["blob"] == 256_000


def _node_version() -> tuple[int, int] | None:
    node = shutil.which("node")
    if node is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def test_node_fetch_with_node_use_env_proxy(gateway: Gateway) -> None:
    version = _node_version()
    if version is None or version < NODE_PROXY_ENV:
        pytest.skip(f"needs Node ≥ 22.21 for NODE_USE_ENV_PROXY (this machine: {version})")
    result = _run(gateway, "node", "-e", NODE_FETCH_CHILD, "https://api.openai.com/v1/models")
    assert result.code == 0, result.err
    assert _headers(json.loads(result.out))["authorization"] == f"Bearer {OPENAI_KEY}"


def test_node_fetch_with_undici_env_proxy_agent(gateway: Gateway) -> None:
    if _node_version() is None:
        pytest.skip("node is not installed")
    modules = ROOT / "node_modules"
    if not (modules / "undici").is_dir():
        pytest.skip("undici is not installed (npm ci)")
    result = _run(
        gateway,
        "node",
        "-e",
        NODE_UNDICI_CHILD,
        "https://api.acme.test/v1/things",
        env={"NODE_PATH": str(modules)},
    )
    assert result.code == 0, result.err
    assert _headers(json.loads(result.out))["x-acme-key"] == ACME_KEY


# --- git over HTTPS ------------------------------------------------------------------


class GitServer:
    """``git http-backend`` (smart HTTP) behind a small HTTPS server that
    demands the acme key in ``X-Acme-Key``, so only the proxy can get in."""

    def __init__(self, ca: TestCA, root: Path) -> None:
        self.root = root
        self.seen_keys: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ca.server_context("git.acme.test")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        key = request.headers.get("X-Acme-Key")
        self.seen_keys.append(key)
        if key != ACME_KEY:
            request.send_response(401)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path, _, query = request.path.partition("?")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": "agent",  # enables receive-pack (push)
        }
        if request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
        if request.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def __enter__(self) -> GitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def git_gateway(tmp_path: Path) -> Iterator[tuple[Gateway, GitServer]]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    ca = TestCA()
    root = tmp_path / "repos"
    work = tmp_path / "seed"
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.test",
        "-c",
        "init.defaultBranch=main",
    ]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    (work / "README").write_text("served over smart HTTP\n")
    subprocess.run([*git, "-C", str(work), "add", "README"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "seed"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "repo.git")], check=True)
    with (
        GitServer(ca, root) as server,
        open_gateway(tmp_path, ca=ca, extra_resolve=(("git.acme.test", server.port),)) as gateway,
    ):
        yield gateway, server


def test_git_clone_and_push_over_https(
    git_gateway: tuple[Gateway, GitServer], tmp_path: Path
) -> None:
    gateway, server = git_gateway
    clone = tmp_path / "clone"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "GIT_TERMINAL_PROMPT": "0",  # a 401 fails instead of prompting
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
    }
    url = "https://git.acme.test/repo.git"
    result = _run(gateway, "git", "clone", "-q", url, str(clone), env=env)
    assert result.code == 0, result.err
    assert (clone / "README").read_text() == "served over smart HTTP\n"
    (clone / "NEW").write_text("pushed through the proxy\n")
    local = os.environ | env
    subprocess.run(["git", "-C", str(clone), "add", "NEW"], check=True, env=local)
    subprocess.run(["git", "-C", str(clone), "commit", "-q", "-m", "new"], check=True, env=local)
    result = _run(gateway, "git", "-C", str(clone), "push", "-q", "origin", "main", env=env)
    assert result.code == 0, result.err
    log = subprocess.run(
        ["git", "-C", str(server.root / "repo.git"), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.split() == ["new", "seed"]
    assert len(server.seen_keys) >= 4 and set(server.seen_keys) == {ACME_KEY}
    # Without the proxy's header the server refuses: the credential came from it.
    direct = subprocess.run(
        ["git", "ls-remote", f"https://127.0.0.1:{server.port}/repo.git"],
        capture_output=True,
        env=local | {"GIT_SSL_NO_VERIFY": "1"},
        check=False,
    )
    assert direct.returncode != 0

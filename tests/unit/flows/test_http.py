"""The outbound client factory: trust, proxies ignored, httpx logging quiet."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from authsome.flows.http import OutboundHttp, tls_context
from authsome.testing.upstream import TestCA


def test_httpx_loggers_are_raised_to_warning() -> None:
    assert logging.getLogger("httpx").level >= logging.WARNING
    assert logging.getLogger("httpcore").level >= logging.WARNING


def test_upstream_ca_is_trusted_in_addition_to_system_roots(tmp_path: Path) -> None:
    ca_file = TestCA().write_pem(tmp_path / "ca.pem")
    plain = tls_context(None)
    extended = tls_context(ca_file)
    assert len(extended.get_ca_certs()) == len(plain.get_ca_certs()) + 1
    assert extended.verify_mode == ssl.CERT_REQUIRED and extended.check_hostname


def test_clients_ignore_proxy_environment(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = OutboundHttp().client()
    try:
        assert client._mounts == {}  # no proxy transport mounted
        assert not client.follow_redirects
    finally:
        import asyncio

        asyncio.run(client.aclose())


# --- the daemon reaches authorization servers only through OutboundHttp (async) -----------

SRC = Path(__file__).resolve().parents[3] / "src" / "authsome"
BLOCKING_MODULES = {"requests", "urllib.request", "http.client", "urllib3", "httplib2"}
BLOCKING_HTTPX = {"Client", "get", "post", "put", "patch", "delete", "head", "request", "stream"}
#: Before the event loop runs: the daemon asks who holds a busy port (loopback, 1 s).
ALLOWED = {("daemon/server.py", "get")}


def _daemon_side_modules() -> list[Path]:
    return sorted([*(SRC / "flows").rglob("*.py"), *(SRC / "daemon").rglob("*.py")])


def _problems(relative: str, source: str) -> list[str]:
    import ast

    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=relative)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in BLOCKING_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in BLOCKING_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom) and node.module == "httpx":
            found += [f"from httpx import {a.name}" for a in node.names if a.name == "Client"]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "httpx"
        ):
            name = node.func.attr
            blocking = name in BLOCKING_HTTPX and (relative, name) not in ALLOWED
            builds = name == "AsyncClient" and relative != "flows/http.py"
            if blocking or builds:
                found.append(f"httpx.{name} (line {node.lineno})")
    return [f"{relative}: {problem}" for problem in found]


def test_flows_and_daemon_use_only_the_async_outbound_client() -> None:
    modules = _daemon_side_modules()
    assert any(p.name == "auth_sessions.py" for p in modules)
    problems = [
        problem
        for path in modules
        for problem in _problems(path.relative_to(SRC).as_posix(), path.read_text())
    ]
    assert problems == []


def test_the_scan_finds_blocking_calls() -> None:
    """The scan above can fail: it flags blocking calls and stray async clients."""
    source = (
        "import httpx\nimport urllib.request\n\n"
        "def f(url: str, http: httpx.AsyncClient) -> None:\n"
        "    httpx.post(url)\n    httpx.Client()\n    httpx.AsyncClient()\n"
    )
    assert _problems("flows/x.py", source) == [
        "flows/x.py: import urllib.request",
        "flows/x.py: httpx.post (line 5)",
        "flows/x.py: httpx.Client (line 6)",
        "flows/x.py: httpx.AsyncClient (line 7)",
    ]
    assert _problems("daemon/server.py", "import httpx\nhttpx.get('x')\n") == []

"""`authsome run --local-proxy`: the proxy engine in the CLI, credentials over PoP.

The daemon's own proxy listener is never used: the child's proxy URL names
the CLI's port, and the upstream stand-in is reached from the CLI process
(``AUTHSOME_PROXY_RESOLVE``/``AUTHSOME_UPSTREAM_CA``, as the daemon's flags).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, UPSTREAM_NAMES, Gateway, open_gateway
from tests.support.cli import eventually
from tests.support.daemon import CliResult

PROBE = str(Path(__file__).resolve().parents[1] / "support" / "agent_probe.py")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with open_gateway(tmp_path_factory.mktemp("local-proxy")) as gateway:
        yield gateway


def _local_env(gateway: Gateway) -> dict[str, str]:
    port = gateway.upstream.port
    resolve = ",".join(f"{name}=127.0.0.1:{port}" for name in UPSTREAM_NAMES)
    return {"AUTHSOME_PROXY_RESOLVE": resolve, "AUTHSOME_UPSTREAM_CA": str(gateway.ca_file)}


def _run(gateway: Gateway, *args: str, env: dict[str, str] | None = None) -> CliResult:
    result = gateway.daemon.cli("run", *args, env=_local_env(gateway) | (env or {}), timeout=90)
    gateway.outputs.extend([result.out, result.err])
    return result


def _curl(gateway: Gateway, url: str, *run_args: str) -> tuple[str, str]:
    """Body and status code of ``curl URL`` run behind the local proxy."""
    result = _run(
        gateway, "--local-proxy", *run_args, "--", "curl", "-sS", "-w", "\n%{http_code}", url
    )
    assert result.code == 0, result.err
    body, _, status = result.out.rpartition("\n")
    return body, status


def _headers(echo: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in echo["headers"]}


def _log(gateway: Gateway, *args: str) -> list[dict[str, Any]]:
    result = gateway.daemon.cli("log", "--json", "--limit", "200", *args)
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines() if line.strip()]


def test_curl_gets_the_header_through_the_cli_proxy(gateway: Gateway) -> None:
    body, status = _curl(gateway, "https://api.openai.com/v1/models?limit=2")
    assert status == "200", body
    echo = json.loads(body)
    assert _headers(echo)["authorization"] == f"Bearer {OPENAI_KEY}"
    assert echo["target"] == "/v1/models?limit=2"


@pytest.mark.parametrize("client", ["httpx", "requests", "urllib"])
def test_python_child_never_sees_the_key_and_uses_the_cli_port(
    gateway: Gateway, client: str, tmp_path: Path
) -> None:
    env_out = tmp_path / "env.json"
    result = _run(
        gateway, "--local-proxy", "--", "python", PROBE, client, "https://api.acme.test/v1/x",
        str(env_out),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert _headers(json.loads(result.out))["x-acme-key"] == ACME_KEY
    env = json.loads(env_out.read_text())
    dumped = json.dumps(env)
    assert OPENAI_KEY not in dumped and ACME_KEY not in dumped
    assert env["ACME_API_KEY"] == "authsome-managed"
    proxy_url = env["HTTPS_PROXY"]
    assert proxy_url.startswith("http://run:") and proxy_url.startswith("http://run:")
    port = int(proxy_url.rsplit(":", 1)[1])
    assert port != gateway.daemon.proxy_port  # not the daemon's listener
    ca = Path(env["NODE_EXTRA_CA_CERTS"])
    assert ca.name == "local-authsome-ca.pem"
    assert (ca.parent / "local" / "ca.key").stat().st_mode & 0o077 == 0


def test_denials_read_as_the_daemon_proxy_says_them(gateway: Gateway) -> None:
    local_body, local_status = _curl(
        gateway, "https://api.openai.com/v1/models", "--provider", "acme"
    )
    daemon = gateway.daemon.cli(
        "run", "--provider", "acme", "--",
        "curl", "-sS", "-w", "\n%{http_code}", "https://api.openai.com/v1/models",
    )  # fmt: skip
    daemon_body, _, daemon_status = daemon.out.rpartition("\n")
    assert local_status == daemon_status == "403"
    assert local_body == daemon_body
    assert "may not use openai" in local_body and OPENAI_KEY not in local_body

    # A refused CONNECT: curl reports the status (the reason is the proxy's body).
    args = ("--deny-unmatched", "--", "curl", "-sS", "https://unmatched.test/")
    local = _run(gateway, "--local-proxy", *args)
    daemon = gateway.daemon.cli("run", *args)
    assert local.code == daemon.code == 56
    assert "CONNECT tunnel failed, response 403" in local.err
    assert local.err == daemon.err


def test_grant_is_honoured_as_the_daemon_answers(gateway: Gateway) -> None:
    def grant(*args: str) -> None:
        result = gateway.daemon.cli(
            "identity", "grant", *args, "--password-stdin", input=PASSWORD + "\n"
        )
        assert result.code == 0, result.err

    grant("--provider", "acme")
    try:
        body, status = _curl(gateway, "https://api.openai.com/v1/models")
        assert status == "403"
        assert "grant does not include it" in body and OPENAI_KEY not in body
        body, status = _curl(gateway, "https://api.acme.test/ok")
        assert status == "200" and _headers(json.loads(body))["x-acme-key"] == ACME_KEY
    finally:
        grant()  # no --provider: every provider again


def test_requests_are_audited_and_the_daemon_never_carried_them(gateway: Gateway) -> None:
    marker = "/v1/audited-local-proxy"
    body, status = _curl(gateway, f"https://api.openai.com{marker}?secret-query=1")
    assert status == "200", body

    def written() -> list[dict[str, Any]]:  # the daemon writes the run's events in batches
        events = _log(gateway)
        assert any(e["event"] == "proxy_request" and e.get("path") == marker for e in events)
        return events

    events = eventually(written)
    proxied = [e for e in events if e["event"] == "proxy_request" and e.get("path") == marker]
    assert len(proxied) == 1, proxied
    event = proxied[0]
    assert event["outcome"] == "success" and event["status"] == 200
    assert event["provider"] == "openai" and event["host"] == "api.openai.com"
    assert event["detail"]["local_proxy"] is True
    resolved = [
        e for e in events if e["event"] == "credential_resolved" and e.get("path") == marker
    ]
    assert len(resolved) == 1 and resolved[0]["outcome"] == "success"
    assert "secret-query" not in json.dumps(events)
    assert OPENAI_KEY not in json.dumps(events)


def test_a_hundred_requests_cost_one_resolve(gateway: Gateway, tmp_path: Path) -> None:
    script = tmp_path / "many.py"
    script.write_text(
        "import httpx\n"
        "with httpx.Client(timeout=20) as c:\n"
        "    for i in range(100):\n"
        "        r = c.get(f'https://eu.api.acme.test/many/{i}')\n"
        "        assert r.status_code == 200, r.status_code\n"
    )
    result = _run(gateway, "--local-proxy", "--", "python", str(script))
    assert result.code == 0, result.err

    def all_written() -> None:  # the daemon writes the run's events in batches
        proxied = _log(gateway, "--event", "proxy_request")
        assert len([e for e in proxied if str(e.get("path", "")).startswith("/many/")]) == 100

    eventually(all_written)
    # Queued before the first request's event, so written by now.
    events = _log(gateway, "--event", "credential_resolved")
    many = [e for e in events if str(e.get("path", "")).startswith("/many/")]
    assert len(many) == 1

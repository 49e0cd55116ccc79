"""`authsome run --local-proxy`: the proxy engine in the CLI, credentials over PoP.

The daemon's own proxy listener is never used: the child's proxy URL names
the CLI's port, and the upstream stand-in is reached from the CLI process
(``AUTHSOME_PROXY_RESOLVE``/``AUTHSOME_UPSTREAM_CA``, as the daemon's flags).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from authsome.audit.writer import DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL, UNAVAILABLE_MESSAGE
from authsome.client.api import DaemonClient
from authsome.errors import AuditUnavailable
from authsome.proxy.local_backend import VOUCH_INTERVALS, LocalProxy
from tests.conftest import PASSWORD
from tests.integration.conftest import ACME_KEY, OPENAI_KEY, UPSTREAM_NAMES, Gateway, open_gateway
from tests.support import store
from tests.support.cli import eventually
from tests.support.daemon import CliResult
from tests.support.pop import home_key

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


def test_the_run_routes_refuse_while_audit_events_cannot_be_written(gateway: Gateway) -> None:
    home = gateway.daemon.home
    question = {"host": "api.openai.com", "port": 443, "method": "GET", "path": "/v1/routes"}
    event = {
        "method": "GET",
        "host": "api.openai.com",
        "path": "/v1/routes-refused-upload",
        "status": 200,
        "provider": "openai",
        "connection": "default",
        "outcome": "success",
        "duration_ms": 1.0,
    }
    with DaemonClient(gateway.daemon.url, home_key(home)) as daemon:
        run_id = daemon.start_run()["run_id"]
        resolve, events = f"/runs/{run_id}/resolve", f"/runs/{run_id}/events"
        try:
            answer = daemon.request("POST", resolve, json=question)
            assert answer["headers"]["Authorization"] == f"Bearer {OPENAI_KEY}"
            store.refuse_audit_writes(home)
            try:
                time.sleep(4 * DEFAULT_INTERVAL)  # past the daemon's confirm window
                with pytest.raises(AuditUnavailable) as refused:
                    daemon.request("POST", resolve, json=question)
                assert refused.value.message == UNAVAILABLE_MESSAGE
                with pytest.raises(AuditUnavailable):
                    daemon.request("POST", events, json={"events": [event], "dropped": 0})
            finally:
                store.allow_audit_writes(home)

            def accepted_again() -> None:
                try:
                    daemon.request("POST", events, json={"events": [event], "dropped": 0})
                except AuditUnavailable as exc:
                    raise AssertionError("still refused") from exc

            eventually(accepted_again)
            assert daemon.request("POST", resolve, json=question)["headers"]
        finally:
            daemon.end_run(run_id)
    eventually(lambda: _assert_stored(gateway, "/v1/routes-refused-upload", 1))


def _stored(gateway: Gateway, prefix: str) -> int:
    """The daemon's ``proxy_request`` events whose path starts with ``prefix``."""
    sql = "SELECT count(*) FROM audit_events WHERE event = 'proxy_request' AND path LIKE ?"
    return int(store.scalar(gateway.daemon.home, sql, prefix + "%"))


def _assert_stored(gateway: Gateway, prefix: str, count: int) -> None:
    assert _stored(gateway, prefix) == count


#: A child that pauses between requests until the test says go (files in argv[1]),
#: and prints each request's status and body.
GATED_CHILD = """
import json, pathlib, sys, time
import httpx

flags, lapse = pathlib.Path(sys.argv[1]), float(sys.argv[2])
seen = {}

def pause(name):
    (flags / name).touch()
    deadline = time.monotonic() + 60
    while not (flags / ("go-" + name)).exists():
        if time.monotonic() > deadline:
            sys.exit("the test never said go after " + name)
        time.sleep(0.02)

with httpx.Client(timeout=30) as client:
    def get(name):
        response = client.get("https://api.openai.com/v1/audit-gate/" + name)
        seen[name] = [response.status_code, response.text]
    get("cached")
    pause("cached")
    time.sleep(lapse)
    get("refused")
    pause("refused")
    get("repaired")
print(json.dumps(seen))
"""
#: How long the child waits after audit writes broke: past the daemon's confirm
#: window (one interval) and the CLI's trust in its cached answers, twice over.
LAPSE = 2 * VOUCH_INTERVALS * DEFAULT_INTERVAL


def _wait_for(flag: Path, runner: threading.Thread) -> None:
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert runner.is_alive() and time.monotonic() < deadline, f"the child never wrote {flag}"
        time.sleep(0.02)


def test_cached_credentials_are_withheld_while_the_daemon_cannot_audit(
    gateway: Gateway, tmp_path: Path
) -> None:
    home = gateway.daemon.home
    flags = tmp_path / "flags"
    flags.mkdir()
    script = tmp_path / "gated.py"
    script.write_text(GATED_CHILD)
    results: list[CliResult] = []
    args = ("--local-proxy", "--", "python", str(script), str(flags), str(LAPSE))
    runner = threading.Thread(target=lambda: results.append(_run(gateway, *args)))
    runner.start()
    try:
        _wait_for(flags / "cached", runner)  # a credential is cached for 30 s
        store.refuse_audit_writes(home)
        try:
            (flags / "go-cached").touch()
            _wait_for(flags / "refused", runner)
        finally:
            store.allow_audit_writes(home)
        (flags / "go-refused").touch()
    finally:
        runner.join(timeout=120)
    [result] = results
    assert result.code == 0, result.err
    assert "could not be sent" not in result.err  # every event reached the daemon at last
    seen = json.loads(result.out)
    cached_status, cached_body = seen["cached"]
    assert cached_status == 200 and _headers(json.loads(cached_body))["authorization"]
    assert seen["refused"] == [503, f"authsome: {UNAVAILABLE_MESSAGE}\n"]
    repaired_status, repaired_body = seen["repaired"]
    assert repaired_status == 200, repaired_body
    assert _headers(json.loads(repaired_body))["authorization"] == f"Bearer {OPENAI_KEY}"

    def written() -> list[dict[str, Any]]:  # events held while the store was broken
        events = [e for e in _log(gateway) if str(e.get("path")).startswith("/v1/audit-gate/")]
        proxied = {e["path"].rsplit("/", 1)[1]: e for e in events if e["event"] == "proxy_request"}
        assert set(proxied) == {"cached", "refused", "repaired"}, proxied
        assert proxied["refused"]["status"] == 503
        refusals = [
            e
            for e in events
            if e["event"] == "credential_resolved"
            and e["outcome"] == "denied"
            and e["detail"].get("reason") == "audit unavailable"
        ]
        assert refusals and refusals[0]["detail"]["local_proxy"] is True
        return events

    eventually(written)
    assert OPENAI_KEY not in result.err + result.out.replace(f"Bearer {OPENAI_KEY}", "")


@contextmanager
def _in_process(
    gateway: Gateway, tmp_path: Path, *, upload_interval: float
) -> Iterator[tuple[LocalProxy, httpx.Client]]:
    """``run --local-proxy``'s engine in this process, with its upload interval set
    by the test, and an HTTP client behind it as the CLI's child would be."""
    key = home_key(gateway.daemon.home)
    upstream = ("127.0.0.1", gateway.upstream.port)
    with DaemonClient(gateway.daemon.url, key) as daemon:
        run_id = daemon.start_run()["run_id"]
        proxy = LocalProxy(
            base_url=gateway.daemon.url,
            key=key,
            run_id=run_id,
            ca_dir=tmp_path / "local-ca",
            deny_unmatched=False,
            upstream_ca=gateway.ca_file,
            resolve_overrides=dict.fromkeys(UPSTREAM_NAMES, upstream),
            upload_interval=upload_interval,
        )
        try:
            port = proxy.start()
            trust = ssl.create_default_context(cadata=proxy.ca.cert_pem.decode())
            proxy_url = f"http://run:{proxy.token}@127.0.0.1:{port}"
            with httpx.Client(proxy=proxy_url, verify=trust, timeout=20) as client:
                yield proxy, client
        finally:
            proxy.stop()
            daemon.end_run(run_id)


def test_a_full_batch_of_events_goes_up_before_the_interval(
    gateway: Gateway, tmp_path: Path
) -> None:
    prefix = "/v1/batch-wake-"
    # An interval no test outlasts: only a full batch can start an upload.
    with _in_process(gateway, tmp_path, upload_interval=60.0) as (_, client):
        for number in range(DEFAULT_BATCH_SIZE - 1):
            assert client.get(f"https://api.acme.test{prefix}{number}").status_code == 200
        time.sleep(4 * DEFAULT_INTERVAL)  # the daemon writes what it gets within one interval
        assert _stored(gateway, prefix) == 0  # one short of a batch: still queued

        assert client.get(f"https://api.acme.test{prefix}last").status_code == 200
        # Within seconds: the 60 s interval never ran out.
        eventually(lambda: _assert_stored(gateway, prefix, DEFAULT_BATCH_SIZE))


def test_a_refused_upload_drops_every_cached_credential_at_once(
    gateway: Gateway, tmp_path: Path
) -> None:
    home = gateway.daemon.home
    prefix = "/v1/refused-upload-"
    sent = 0
    # With a 60 s interval the proxy trusts its cached answers for two minutes, and
    # uploads only when a batch is full: only the refused upload can end that trust.
    with _in_process(gateway, tmp_path, upload_interval=60.0) as (proxy, client):

        def get(label: str) -> httpx.Response:
            nonlocal sent
            sent += 1
            return client.get(f"https://api.acme.test{prefix}{label}")

        cached = get("cached")
        assert cached.status_code == 200 and _headers(cached.json())["x-acme-key"] == ACME_KEY
        store.refuse_audit_writes(home)
        try:
            time.sleep(4 * DEFAULT_INTERVAL)  # past the daemon's confirm window
            while sent < DEFAULT_BATCH_SIZE:  # cached answers while the batch fills
                get("filling")
            deadline = time.monotonic() + 10
            refused = get("after-upload")
            while refused.status_code != 503 and time.monotonic() < deadline:
                refused = get("after-upload")
            assert refused.status_code == 503  # (a 200 body would show the planted key)
            assert refused.text == f"authsome: {UNAVAILABLE_MESSAGE}\n"
        finally:
            store.allow_audit_writes(home)

        def repaired() -> None:  # the next request asks the daemon again
            response = get("repaired")
            assert response.status_code == 200, response.text
            assert _headers(response.json())["x-acme-key"] == ACME_KEY

        eventually(repaired)
    assert proxy.unsent_events == 0 and proxy.dropped_events == 0
    eventually(lambda: _assert_stored(gateway, prefix, sent))  # the refused batch was kept

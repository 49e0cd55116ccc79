"""`authsome run` policy end to end: every refusal says why and is audited.

Unmatched hosts with ``--deny-unmatched``, providers without a connection or
whose connection needs a new login, plain ``http://`` to a matched host,
upstreams whose certificate fails verification, and ``--connection``.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.integration.conftest import OPENAI_KEY, Gateway, open_gateway
from tests.support import store

#: A child that sends one CONNECT through $HTTPS_PROXY and prints the raw reply.
CONNECT_PROBE = """
import base64, os, socket, sys, urllib.parse
proxy = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
auth = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
with socket.create_connection((proxy.hostname, proxy.port), timeout=10) as sock:
    sock.sendall(f"CONNECT {sys.argv[1]} HTTP/1.1\\r\\nHost: {sys.argv[1]}\\r\\n"
                 f"Proxy-Authorization: Basic {auth}\\r\\n\\r\\n".encode())
    reply = b""
    while chunk := sock.recv(4096):
        reply += chunk
sys.stdout.write(reply.decode())
"""


def _curl(gateway: Gateway, *args: str, run_args: tuple[str, ...] = ()) -> tuple[str, str]:
    """(body, status) of one curl run as the child of `authsome run`."""
    result = gateway.daemon.cli(
        "run", *run_args, "--", "curl", "-sS", "-w", "\n%{http_code}", *args
    )
    gateway.outputs.extend([result.out, result.err])
    body, _, status = result.out.rpartition("\n")
    return body, status


def audit_events(home: Path, **match: Any) -> list[dict[str, Any]]:
    """Audit rows with these column values, waiting for the batcher to write them."""
    clauses = " AND ".join(f"{name} = ?" for name in match)
    query = f"SELECT * FROM audit_events WHERE {clauses} ORDER BY id"  # noqa: S608 - test-chosen names
    deadline = time.monotonic() + 10
    while True:
        with store.connect(home) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(row) for row in db.execute(query, tuple(match.values()))]
        if rows or time.monotonic() > deadline:
            for row in rows:
                row["detail"] = json.loads(row["detail"] or "{}")
            return rows
        time.sleep(0.1)


def test_deny_unmatched_refuses_other_hosts_with_a_reason_and_an_audit_event(
    gateway: Gateway,
) -> None:
    result = gateway.daemon.cli(
        "run", "--deny-unmatched", "--", "python", "-c", CONNECT_PROBE, "unmatched.test:443"
    )
    assert result.code == 0, result.err
    head, _, body = result.out.partition("\n\n")  # the CLI result has universal newlines
    assert head.startswith("HTTP/1.1 403 Forbidden")
    assert body.count("\n") == 1  # one line
    assert "unmatched.test matches no provider" in body and "--deny-unmatched" in body
    [event] = audit_events(gateway.daemon.home, event="proxy_request", host="unmatched.test")
    assert (event["outcome"], event["method"], event["status"]) == ("denied", "CONNECT", 403)
    assert "--deny-unmatched" in event["detail"]["reason"]
    # curl sees the refused CONNECT; matched hosts still get their credential.
    refused = gateway.daemon.cli(
        "run",
        "--deny-unmatched",
        "--",
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_connect}",
        "https://unmatched.test/",
    )
    assert refused.out == "403" and refused.code != 0
    body, status = _curl(
        gateway, "https://api.openai.com/v1/models", run_args=("--deny-unmatched",)
    )
    assert status == "200", body
    # Plain http:// to an unmatched host is refused the same way.
    body, status = _curl(gateway, "http://unmatched.test/x", run_args=("--deny-unmatched",))
    assert status == "403" and "--deny-unmatched" in body


def test_no_connection_is_denied_with_the_login_command_and_audited(gateway: Gateway) -> None:
    assert gateway.daemon.cli("logout", "openai").code == 0
    body, status = _curl(gateway, "https://api.openai.com/v1/models?x=1")
    assert status == "403"
    assert "no openai connection" in body and "`authsome login openai`" in body
    [event] = audit_events(gateway.daemon.home, event="proxy_request", provider="openai")
    assert (event["outcome"], event["status"], event["path"]) == ("denied", 403, "/v1/models")


def test_a_connection_that_needs_login_is_denied_with_the_login_command(
    gateway: Gateway,
) -> None:
    # What a failed OAuth refresh leaves behind (set before the first proxied
    # request, so nothing is cached yet).
    with store.connect(gateway.daemon.home) as db:
        db.execute("UPDATE connections SET status = 'needs_login' WHERE provider = 'openai'")
    body, status = _curl(gateway, "https://api.openai.com/v1/models")
    assert status == "403"
    assert "needs a new login" in body
    assert "run `authsome login openai --connection default --force`" in body
    [event] = audit_events(gateway.daemon.home, event="proxy_request", provider="openai")
    assert (event["outcome"], event["status"]) == ("denied", 403)
    assert "needs a new login" in event["detail"]["reason"]


def test_plain_http_to_a_matched_host_is_refused_and_audited(gateway: Gateway) -> None:
    body, status = _curl(gateway, "http://api.openai.com/v1/models?q=1")
    assert status == "403"
    assert "credentials are only sent over HTTPS" in body and "https://api.openai.com" in body
    [event] = audit_events(gateway.daemon.home, event="proxy_request", host="api.openai.com")
    assert (event["outcome"], event["method"], event["path"]) == ("denied", "GET", "/v1/models")


def test_connection_option_picks_a_named_connection(gateway: Gateway) -> None:
    work_key = "sk-proj-PLANTEDworkKEY9876543210abcd"
    login = gateway.daemon.cli(
        "login", "openai", "--connection", "work", "--key-stdin", input=work_key + "\n"
    )
    assert login.code == 0, login.err

    def seen(*run_args: str) -> str:
        body, status = _curl(gateway, "https://api.openai.com/v1/models", run_args=run_args)
        assert status == "200", body
        headers = {name.lower(): value for name, value in json.loads(body)["headers"]}
        return str(headers["authorization"])

    assert seen() == f"Bearer {OPENAI_KEY}"
    assert seen("--connection", "openai=work") == f"Bearer {work_key}"
    body, status = _curl(
        gateway, "https://api.openai.com/v1/models", run_args=("--connection", "openai=nope")
    )
    assert status == "403" and "no openai connection named nope" in body


@pytest.fixture
def bad_upstreams(tmp_path: Path) -> Iterator[Gateway]:
    """The gateway plus three *.acme.test upstreams whose certificates must fail:
    expired, issued for another host, and issued (valid dates, right host) by a CA
    the daemon was not told about."""
    ca = TestCA()
    unknown_ca = TestCA("Unknown test CA")
    with (
        HttpsEchoServer(ca, ("expired.acme.test",), expired=True) as expired,
        HttpsEchoServer(ca, ("somewhere-else.test",)) as wrong_host,
        HttpsEchoServer(unknown_ca, ("untrusted.acme.test",)) as untrusted,
        open_gateway(
            tmp_path,
            ca=ca,
            extra_resolve=(
                ("expired.acme.test", expired.port),
                ("wronghost.acme.test", wrong_host.port),
                ("untrusted.acme.test", untrusted.port),
            ),
        ) as gateway,
    ):
        # The untrusted upstream's only fault is its issuer: a client that trusts
        # the unknown CA completes the handshake with it under its own name.
        with (
            socket.create_connection(("127.0.0.1", untrusted.port), timeout=10) as sock,
            unknown_ca.client_context().wrap_socket(sock, server_hostname="untrusted.acme.test"),
        ):
            pass
        yield gateway


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("expired.acme.test", "certificate has expired"),
        ("wronghost.acme.test", "Hostname mismatch"),
        ("untrusted.acme.test", "unable to get local issuer certificate"),
    ],
)
def test_upstream_certificate_failures_give_502_naming_host_and_reason(
    bad_upstreams: Gateway, host: str, reason: str
) -> None:
    body, status = _curl(bad_upstreams, f"https://{host}/v1/things")
    assert status == "502"
    assert f"TLS verification of {host}:443 failed" in body and reason in body
    [event] = audit_events(bad_upstreams.daemon.home, event="proxy_request", host=host)
    assert (event["outcome"], event["status"]) == ("failure", 502)

"""The proxy port's limits: slow heads time out, floods are bounded, huge heads are refused.

Meanwhile the API's /health answers (from 127.0.0.1) and a real agent's
proxied requests (from 127.0.0.3, a run token, the credential injected)
keep succeeding; the misbehaving client is 127.0.0.2.
"""

from __future__ import annotations

import base64
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.adversarial.conftest import Target, open_target
from tests.adversarial.watch import HealthWatch, ProxyWatch
from tests.support.pop import signed

HEAD_TIMEOUT = 1.5
PER_CLIENT = 8
LIMITS = {
    "AUTHSOME_HEADER_TIMEOUT": str(HEAD_TIMEOUT),
    "AUTHSOME_PROXY_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
}
# The deadline plus the proxy's sweep (a quarter of the shortest timeout) and slack.
CUT_WITHIN = HEAD_TIMEOUT + HEAD_TIMEOUT / 4 + 1.5
ATTACKER = "127.0.0.2"
AGENT = "127.0.0.3"


@dataclass
class Proxied:
    target: Target
    run: dict[str, Any]
    ca: ssl.SSLContext

    @property
    def port(self) -> int:
        return int(self.run["proxy_port"])

    def connect_line(self, host: str) -> bytes:
        token = self.run["token"]
        basic = base64.b64encode(f"run:{token}".encode()).decode()
        return (
            f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n"
            f"Proxy-Authorization: Basic {basic}\r\n\r\n"
        ).encode()

    def watches(self) -> tuple[HealthWatch, ProxyWatch]:
        proxy_url = f"http://run:{self.run['token']}@127.0.0.1:{self.port}"
        agent = ProxyWatch(
            proxy_url,
            self.ca,
            "https://api.openai.com/v1/models",
            self.target.api_key,
            AGENT,
        )
        return HealthWatch(self.target.daemon.url), agent


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    with open_target(tmp_path_factory.mktemp("proxy-limits"), env=LIMITS) as target:
        answer = signed(target.key, "POST", target.daemon.url + "/runs", body=b"{}")
        assert answer.status_code == 201, answer.text
        run = answer.json()
        target.ledger.planted.add(run["token"])
        ca = ssl.create_default_context(cadata=run["ca_pem"])
        try:
            yield Proxied(target, run, ca)
        finally:
            signed(target.key, "DELETE", target.daemon.url + f"/runs/{run['run_id']}")


def _connect(port: int, source: str = ATTACKER) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_all(sock: socket.socket | ssl.SSLSocket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError, ssl.SSLError):
        pass
    return b"".join(chunks)


def _trickle(sock: socket.socket | ssl.SSLSocket, seconds: float) -> None:
    """Send one header byte every 0.2 s: a head that never completes."""
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            sock.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        pass


def _assert_trickled_head_is_cut(sock: socket.socket | ssl.SSLSocket) -> None:
    """A head begun on ``sock`` and trickled on past the deadline: answered 408, in time."""
    started = time.monotonic()
    _trickle(sock, CUT_WITHIN + 2)
    answer = _read_all(sock)
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert elapsed < CUT_WITHIN + 0.5, f"cut after {elapsed:.1f} s"


def _assert_served_throughout(health: HealthWatch, agent: ProxyWatch) -> None:
    assert health.failures == [] and health.answers > 0, health.failures
    assert agent.failures == [] and agent.answers > 0, agent.failures


def test_a_trickled_connect_head_times_out(proxied: Proxied) -> None:
    health, agent = proxied.watches()
    with health, agent, _connect(proxied.port) as sock:
        sock.sendall(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n")
        _assert_trickled_head_is_cut(sock)
    _assert_served_throughout(health, agent)


def test_a_silent_connection_is_closed(proxied: Proxied) -> None:
    with _connect(proxied.port) as sock:
        started = time.monotonic()
        answer = _read_all(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert HEAD_TIMEOUT - 0.1 < elapsed < CUT_WITHIN, f"closed after {elapsed:.1f} s"


def test_a_trickled_head_inside_an_intercepted_tunnel_times_out(proxied: Proxied) -> None:
    health, agent = proxied.watches()
    with health, agent, _connect(proxied.port) as raw:
        raw.sendall(proxied.connect_line("api.openai.com"))
        established = raw.recv(4096)
        assert established.startswith(b"HTTP/1.1 200"), established
        with proxied.ca.wrap_socket(raw, server_hostname="api.openai.com") as tls:
            tls.sendall(b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n")
            _assert_trickled_head_is_cut(tls)
    _assert_served_throughout(health, agent)


def test_a_flood_of_connections_from_one_client_is_bounded(proxied: Proxied) -> None:
    health, agent = proxied.watches()
    with health, agent:
        # Tunnels the proxy never cuts (unmatched.test is not intercepted) fill the quota.
        held = [_connect(proxied.port) for _ in range(PER_CLIENT)]
        try:
            for sock in held:
                sock.sendall(proxied.connect_line("unmatched.test"))
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            flood = [_connect(proxied.port) for _ in range(60)]
            deadline = time.monotonic() + 3  # a refusal is immediate; admitted ones would wait
            answers = []
            for sock in flood:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                answers.append(_read_all(sock))
            for sock in flood:
                sock.close()
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
            assert len(refused) == len(flood), {a[:40] for a in answers}
            assert all(b"too many open connections" in a for a in refused)
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.5)
        with _connect(proxied.port) as again:  # the quota is free again once they close
            again.sendall(proxied.connect_line("unmatched.test"))
            assert again.recv(4096).startswith(b"HTTP/1.1 200")
    _assert_served_throughout(health, agent)


@pytest.mark.parametrize("inside_tunnel", [False, True])
def test_an_oversize_request_head_is_refused(proxied: Proxied, inside_tunnel: bool) -> None:
    health, agent = proxied.watches()
    padding = b"X-Padding: " + b"a" * 1024 + b"\r\n"
    with health, agent, _connect(proxied.port) as raw:
        sock: socket.socket | ssl.SSLSocket = raw
        if inside_tunnel:
            raw.sendall(proxied.connect_line("api.openai.com"))
            assert raw.recv(4096).startswith(b"HTTP/1.1 200")
            sock = proxied.ca.wrap_socket(raw, server_hostname="api.openai.com")
        head = b"GET http://api.openai.com/ HTTP/1.1\r\nHost: api.openai.com\r\n"
        try:
            sock.sendall(head)
            for _ in range(256):  # up to 256 KiB, four times the 64 KiB limit
                sock.sendall(padding)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"head too large" in answer
    _assert_served_throughout(health, agent)

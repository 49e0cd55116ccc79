"""kill -9 during 1,000 concurrent connection writes: every acknowledged write survives.

A write is acknowledged when the client saw its 201. After the kill and a
restart, each acknowledged connection is listed, its key decrypts to what
was written (through /resolve), and the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.ledger import Ledger
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import start_daemon
from tests.support.pop import home_key

WRITES = 1000
WORKERS = 32
KILL_AFTER = 400  # acknowledged writes before the kill


def _post(client: httpx.Client, key: IdentityKey, url: str, body: bytes) -> httpx.Response:
    proof = sign_proof(key, method="POST", url=url, body=body)
    headers = {"DPoP": proof, "content-type": "application/json"}
    return client.post(url, content=body, headers=headers)


@pytest.mark.slow
def test_kill_9_during_concurrent_writes_loses_no_acknowledged_write(
    tmp_path: Path, ledger: Ledger
) -> None:
    home = tmp_path / "home"
    daemon = start_daemon(home)
    ledger.watch_home(home, daemon.log_path)
    assert daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n").code == 0
    key = home_key(home)
    marker = ledger.plant("crash")
    secrets = {f"c{i:04d}": f"sk-{marker}x{i:04d}" for i in range(WRITES)}
    acknowledged: set[str] = set()
    lock = threading.Lock()
    killed = threading.Event()
    url = daemon.url + "/connections"

    def write(name: str) -> None:
        if killed.is_set():
            return
        body = json.dumps({"provider": "openai", "connection": name, "api_key": secrets[name]})
        try:
            with httpx.Client(timeout=30) as client:
                response = _post(client, key, url, body.encode())
        except httpx.HTTPError:
            return  # the daemon died under this request: not acknowledged
        if response.status_code == 201:
            with lock:
                acknowledged.add(name)
                if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    os.kill(daemon.process.pid, signal.SIGKILL)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(write, secrets))
    daemon.process.wait(timeout=30)
    assert killed.is_set(), "the kill happened while writes were in flight"
    assert daemon.process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= KILL_AFTER

    restarted = start_daemon(home)
    try:
        listed = httpx.get(
            restarted.url + "/connections",
            headers={"DPoP": sign_proof(key, method="GET", url=restarted.url + "/connections")},
            timeout=30,
        )
        stored = {c["name"] for c in listed.json() if c["provider"] == "openai"}
        missing = acknowledged - stored
        assert not missing, f"{len(missing)} acknowledged writes were lost"
        with httpx.Client(timeout=30) as client:
            for name in sorted(acknowledged):
                body = json.dumps(
                    {"url": "https://api.openai.com/v1/models", "connection": name}
                ).encode()
                response = _post(client, key, restarted.url + "/resolve", body)
                assert response.status_code == 200, (name, response.text)
                assert response.json()["headers"]["Authorization"] == f"Bearer {secrets[name]}"
        verify_url = restarted.url + "/audit/verify"
        verified = httpx.get(
            verify_url,
            headers={"DPoP": sign_proof(key, method="GET", url=verify_url)},
            timeout=120,
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["intact"] is True, verified.json()
    finally:
        assert restarted.stop() == 0

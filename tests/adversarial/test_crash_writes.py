"""kill -9 during 1,000 concurrent connection writes: every acknowledged write survives.

All 1,000 requests are on the wire (one connection each, every request
written whole) before the first answer is read; the daemon is killed once
a random number of them, between 300 and 700, has been acknowledged (a
``201`` seen by the client), so hundreds are still being processed. After
a restart, each acknowledged connection is listed, its key decrypts to what
was written (through /resolve), and the audit chain verifies.

The connections come from 20 loopback source addresses (50 each), as from
20 local clients, so the daemon's per-client connection cap (64) stays in
force and untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import claimed_daemon
from tests.adversarial.ledger import Ledger
from tests.support.daemon import Daemon, start_daemon

WRITES = 1000
SOURCES = tuple(f"127.0.0.{n}" for n in range(2, 22))
KILL_BETWEEN = (300, 700)  # acknowledged writes before the kill


@dataclass
class Tally:
    """What the client saw; ``at_kill`` is copied when the kill is sent."""

    kill_at: int
    sent: int = 0
    answered: int = 0
    cut_off: int = 0  # connections closed without an answer (by the kill)
    acknowledged: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)  # other answers, by status line
    at_kill: tuple[int, int] | None = None  # (sent, answered) when the kill went out

    def report(self) -> str:
        return (
            f"kill after {self.kill_at} acks; sent {self.sent}/{WRITES}; "
            f"acknowledged {len(self.acknowledged)}; cut off {self.cut_off}; "
            f"(sent, answered) at the kill {self.at_kill}; other answers {dict(self.refused)}"
        )


def _request(key: IdentityKey, url: str, authority: str, body: bytes) -> bytes:
    proof = sign_proof(key, method="POST", url=url, body=body)
    head = (
        f"POST /connections HTTP/1.1\r\nHost: {authority}\r\nDPoP: {proof}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _write_all(
    daemon: Daemon, key: IdentityKey, secrets: dict[str, str], tally: Tally
) -> None:
    url = daemon.url + "/connections"
    authority = httpx.URL(url).netloc.decode("ascii")
    host, port = authority.rsplit(":", 1)
    all_sent = asyncio.Event()

    async def write(index: int, name: str) -> None:
        body = json.dumps({"provider": "openai", "connection": name, "api_key": secrets[name]})
        try:
            reader, writer = await asyncio.open_connection(
                host, int(port), local_addr=(SOURCES[index % len(SOURCES)], 0)
            )
        except OSError:
            tally.cut_off += 1
            return
        try:
            writer.write(_request(key, url, authority, body.encode()))
            await writer.drain()
            tally.sent += 1
            if tally.sent == WRITES:
                all_sent.set()
            await all_sent.wait()  # every request is on the wire before any answer is read
            answer = await reader.read()
        except OSError:
            answer = b""
        finally:
            writer.close()
        if not answer:
            tally.cut_off += 1  # the daemon died under this request: not acknowledged
            return
        tally.answered += 1
        if answer.startswith(b"HTTP/1.1 201 "):
            tally.acknowledged.add(name)
            if len(tally.acknowledged) >= tally.kill_at and tally.at_kill is None:
                tally.at_kill = (tally.sent, tally.answered)
                os.kill(daemon.process.pid, signal.SIGKILL)
        else:
            tally.refused[answer.split(b"\r\n", 1)[0].decode("latin-1")[:40]] += 1

    async def give_up_waiting() -> None:
        await asyncio.sleep(60)
        all_sent.set()  # some connection failed: let the others read, the asserts report it

    watchdog = asyncio.create_task(give_up_waiting())
    await asyncio.gather(*(write(i, name) for i, name in enumerate(secrets)))
    watchdog.cancel()


def _signed_get(client: httpx.Client, key: IdentityKey, url: str) -> httpx.Response:
    return client.get(url, headers={"DPoP": sign_proof(key, method="GET", url=url)})


def _resolve(client: httpx.Client, key: IdentityKey, base: str, name: str) -> httpx.Response:
    url = base + "/resolve"
    body = json.dumps({"url": "https://api.openai.com/v1/models", "connection": name}).encode()
    proof = sign_proof(key, method="POST", url=url, body=body)
    return client.post(
        url, content=body, headers={"DPoP": proof, "content-type": "application/json"}
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_during_concurrent_writes_loses_no_acknowledged_write(
    tmp_path: Path, ledger: Ledger
) -> None:
    home = tmp_path / "home"
    daemon, key = claimed_daemon(home, ledger)
    marker = ledger.plant("crash")
    secrets = {f"c{i:04d}": f"sk-{marker}x{i:04d}" for i in range(WRITES)}
    tally = Tally(kill_at=random.SystemRandom().randint(*KILL_BETWEEN))

    asyncio.run(_write_all(daemon, key, secrets, tally))
    daemon.process.wait(timeout=30)
    assert tally.at_kill is not None, f"the kill never came: {tally.report()}"
    assert daemon.process.returncode == -signal.SIGKILL, tally.report()
    assert tally.at_kill[0] == WRITES, f"not all writes were in flight: {tally.report()}"
    assert tally.at_kill[1] < WRITES - 100, f"the kill came too late: {tally.report()}"

    assert not tally.refused, f"writes answered with an error: {tally.report()}"
    restarted = start_daemon(home)
    try:
        with httpx.Client(timeout=30) as client:
            listed = _signed_get(client, key, restarted.url + "/connections")
            assert listed.status_code == 200, listed.text
            stored = {c["name"] for c in listed.json() if c["provider"] == "openai"}
            missing = tally.acknowledged - stored
            assert not missing, (
                f"{len(missing)} of {len(tally.acknowledged)} acknowledged writes were lost "
                f"({len(stored)} stored): {tally.report()}"
            )
            wrong = []
            for name in sorted(tally.acknowledged):
                response = _resolve(client, key, restarted.url, name)
                if (
                    response.status_code != 200
                    or response.json()["headers"].get("Authorization") != f"Bearer {secrets[name]}"
                ):
                    wrong.append(name)
            assert not wrong, (
                f"{len(wrong)} of {len(tally.acknowledged)} acknowledged writes do not decrypt "
                f"to what was written: {tally.report()}"
            )
            verified = _signed_get(client, key, restarted.url + "/audit/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["intact"] is True, (verified.json(), tally.report())
    finally:
        assert restarted.stop() == 0

"""``vault backup`` while connections are being written: each backup is a consistent vault.

Four writers add connections as fast as the daemon takes them while three
backups (with the key, passphrase-sealed) are taken. Each backup is then
restored into a home of its own and served by a daemon there: the database
passes SQLite's integrity check, every connection in it decrypts to exactly
what was written, every write acknowledged before the backup began is in
it, and the audit chain verifies. (Backups cover the built-in SQLite store;
PostgreSQL has pg_dump.)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import claimed_daemon
from tests.adversarial.ledger import Ledger
from tests.support import store
from tests.support.daemon import Daemon, base_env, run_cli, start_daemon
from tests.support.vault import backup_with_key

WRITERS = 4
BACKUPS = 3
BACKUP_EVERY = 1.5  # seconds between backups, writes running throughout


@dataclass
class Writes:
    """What the writers sent and when each write was acknowledged."""

    secrets: dict[str, str] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def _post(client: httpx.Client, key: IdentityKey, url: str, body: bytes) -> httpx.Response:
    proof = sign_proof(key, method="POST", url=url, body=body)
    return client.post(
        url, content=body, headers={"DPoP": proof, "content-type": "application/json"}
    )


def _writer(daemon: Daemon, key: IdentityKey, marker: str, index: int, writes: Writes) -> None:
    url = daemon.url + "/connections"
    with httpx.Client(timeout=30) as client:
        serial = 0
        while not writes.stop.is_set():
            name = f"w{index}-{serial:05d}"
            secret = f"sk-{marker}-{name}"
            serial += 1
            with writes.lock:
                writes.secrets[name] = secret
            body = json.dumps({"provider": "openai", "connection": name, "api_key": secret})
            response = _post(client, key, url, body.encode())
            if response.status_code != 201:
                writes.errors.append(f"{name}: {response.status_code} {response.text[:100]}")
                continue
            with writes.lock:
                writes.acked_at[name] = time.monotonic()


def _take_backups(daemon: Daemon, tmp: Path, passphrase: str) -> list[tuple[Path, float]]:
    taken = []
    for number in range(BACKUPS):
        time.sleep(BACKUP_EVERY)
        path = tmp / f"vault-{number}.bak"
        began = time.monotonic()
        made = backup_with_key(daemon, path, passphrase)
        assert made.code == 0, made.err
        taken.append((path, began))
    return taken


def _restore_elsewhere(backup: Path, home: Path, passphrase: str) -> Daemon:
    restored = run_cli(
        ["vault", "restore", str(backup), "--passphrase-stdin"],
        base_env(home),
        input=passphrase + "\n",
    )
    assert restored.code == 0, restored.err
    database = home / "server" / "authsome.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return start_daemon(home)


def _check_restored(daemon: Daemon, key: IdentityKey, writes: Writes, began: float) -> int:
    """Every connection decrypts to what was written; returns how many there are."""
    names = {row[0] for row in store.rows(daemon.home, "SELECT name FROM connections")}
    acked_before = {name for name, at in writes.acked_at.items() if at < began}
    missing = acked_before - names
    assert not missing, f"{len(missing)} writes acknowledged before the backup are not in it"
    assert names <= set(writes.secrets), "only what was written"
    with httpx.Client(timeout=30) as client:
        for name in sorted(names):
            body = json.dumps({"url": "https://api.openai.com/v1/models", "connection": name})
            answer = _post(client, key, daemon.url + "/resolve", body.encode())
            assert answer.status_code == 200, (name, answer.text)
            assert answer.json()["headers"]["Authorization"] == f"Bearer {writes.secrets[name]}"
        url = daemon.url + "/audit/verify"
        verified = client.get(url, headers={"DPoP": sign_proof(key, method="GET", url=url)})
    assert verified.status_code == 200 and verified.json()["intact"] is True, verified.text
    return len(names)


@store.sqlite_only
def test_backups_taken_during_writes_restore_to_consistent_vaults(
    tmp_path: Path, ledger: Ledger
) -> None:
    home = tmp_path / "home"
    daemon, key = claimed_daemon(home, ledger)
    marker = ledger.plant("backup")
    passphrase = ledger.plant("passphrase")
    writes = Writes()
    threads = [
        threading.Thread(target=_writer, args=(daemon, key, marker, i, writes), daemon=True)
        for i in range(WRITERS)
    ]
    try:
        for thread in threads:
            thread.start()
        backups = _take_backups(daemon, tmp_path, passphrase)
    finally:
        writes.stop.set()
        for thread in threads:
            thread.join(30)
        assert daemon.stop() == 0
    assert writes.errors == [], writes.errors[:5]

    counts = []
    for number, (backup, began) in enumerate(backups):
        data = backup.read_bytes()
        assert marker.encode() not in data and passphrase.encode() not in data
        restored = _restore_elsewhere(backup, tmp_path / f"restored-{number}", passphrase)
        ledger.watch_home(restored.home, restored.log_path)
        try:
            counts.append(_check_restored(restored, key, writes, began))
        finally:
            assert restored.stop() == 0
    assert counts == sorted(counts) and counts[0] > 0, f"connections per backup: {counts}"
    assert counts[-1] < len(writes.acked_at), "the last backup was taken with writes to come"

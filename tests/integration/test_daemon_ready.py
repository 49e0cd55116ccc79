"""``GET /ready`` fails (503) while a check fails, names that check, and recovers.

The faults are real changes to the running daemon's store (SQLite or
PostgreSQL): a master-key check value written by another deployment's key (a
store swapped under the daemon), and a table the daemon needs gone missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

from authsome.crypto.envelope import make_key_check
from tests.support import store
from tests.support.daemon import Daemon

CHECKS = {"config", "store", "vault_key", "providers", "audit", "proxy_ca"}


def _ready(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    response = httpx.get(daemon.url + "/ready", timeout=10)
    return response.status_code, response.json()


def _failing(body: dict[str, Any]) -> set[str]:
    return {name for name, value in body["checks"].items() if not value.startswith("ok")}


def test_a_key_check_of_another_master_key_fails_the_vault_key_check(daemon: Daemon) -> None:
    assert _ready(daemon)[0] == 200
    (original,) = store.rows(daemon.home, "SELECT key_check FROM deployment")
    other_key = os.urandom(32)
    store.execute(daemon.home, "UPDATE deployment SET key_check = ?", make_key_check(other_key))
    try:
        status, body = _ready(daemon)
        assert status == 503
        assert body["ready"] is False and set(body["checks"]) == CHECKS
        assert _failing(body) == {"vault_key"}
        assert body["checks"]["vault_key"].startswith("failed: the master key")
        assert other_key.hex() not in str(body)
    finally:
        store.execute(daemon.home, "UPDATE deployment SET key_check = ?", bytes(original[0]))
    assert _ready(daemon)[0] == 200


@contextlib.contextmanager
def _deployment_table_moved(daemon: Daemon) -> Iterator[None]:
    store.execute(daemon.home, "ALTER TABLE deployment RENAME TO deployment_moved")
    try:
        yield
    finally:
        store.execute(daemon.home, "ALTER TABLE deployment_moved RENAME TO deployment")


def test_a_store_that_cannot_be_read_fails_the_store_check(daemon: Daemon) -> None:
    with _deployment_table_moved(daemon):
        status, body = _ready(daemon)
    assert status == 503
    assert body["ready"] is False
    assert body["checks"]["store"].startswith("failed:")
    assert body["checks"]["vault_key"] == "unknown"
    assert _failing(body) == {"store", "vault_key"}
    assert _ready(daemon)[0] == 200

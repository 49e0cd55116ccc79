"""``GET /ready`` fails (503) while a check fails, names that check, and recovers.

The faults are real changes to the running daemon's store (SQLite or
PostgreSQL): a master-key check value written by another deployment's key (a
store swapped under the daemon), a table the daemon needs gone missing, a
stored custom provider that no longer parses; and to its home: the server
folder opened to other users, a settings file the next start would refuse.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

from authsome.crypto.envelope import make_key_check
from tests.support import store
from tests.support.cli import api_key_provider, register_provider
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


def test_a_stored_provider_that_no_longer_parses_fails_the_providers_check(
    claimed: Daemon,
) -> None:
    register_provider(claimed, api_key_provider("plainco", "api.plainco.test"))
    assert _ready(claimed)[0] == 200
    (original,) = store.rows(
        claimed.home, "SELECT definition FROM custom_providers WHERE name = ?", "plainco"
    )
    # A definition changed behind the daemon's back (a hand edit, a bad restore).
    broken = json.dumps({"schema_version": 1, "name": "plainco", "auth_type": "api_key"})
    store.execute(
        claimed.home,
        "UPDATE custom_providers SET definition = ? WHERE name = ?",
        broken,
        "plainco",
    )
    try:
        status, body = _ready(claimed)
        assert status == 503
        assert body["ready"] is False and set(body["checks"]) == CHECKS
        assert _failing(body) == {"providers"}
        assert body["checks"]["providers"] == (
            "failed: 1 stored custom provider definition(s) no longer parse "
            "(authsome doctor names them)"
        )
        assert "plainco" not in str(body)  # naming providers needs an identity
    finally:
        store.execute(
            claimed.home,
            "UPDATE custom_providers SET definition = ? WHERE name = ?",
            original[0],
            "plainco",
        )
    assert _ready(claimed)[0] == 200


def test_a_server_folder_open_to_others_fails_the_config_check(daemon: Daemon) -> None:
    server = daemon.home / "server"
    assert _ready(daemon)[1]["checks"]["config"].startswith("ok")
    server.chmod(0o755)
    try:
        status, body = _ready(daemon)
    finally:
        server.chmod(0o700)
    assert status == 503
    assert _failing(body) == {"config"}
    assert body["checks"]["config"] == (
        "failed: the server folder is open to other users (mode 755; chmod 700 it)"
    )
    assert str(daemon.home) not in str(body)
    assert _ready(daemon)[0] == 200


def test_a_settings_file_that_no_longer_loads_fails_the_config_check(daemon: Daemon) -> None:
    settings = daemon.home / "server" / "config.json"
    settings.write_text(json.dumps({"audit": {"retention_dayz": 30}}))  # would stop a restart
    try:
        status, body = _ready(daemon)
        assert status == 503
        assert _failing(body) == {"config"}
        assert body["checks"]["config"].startswith("failed: server/config.json does not load")
        settings.write_text(json.dumps({"audit": {"retention_days": 30}}))
        assert _ready(daemon)[0] == 200
    finally:
        settings.unlink()
    assert _ready(daemon)[0] == 200

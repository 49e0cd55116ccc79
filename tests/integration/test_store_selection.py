"""The daemons of this run use the store the run selected (--store), never silently SQLite."""

from __future__ import annotations

import httpx

from tests.support.daemon import Daemon
from tests.support.postgres import use_postgres


def test_the_daemon_under_test_uses_the_selected_store(daemon: Daemon) -> None:
    store = httpx.get(daemon.url + "/ready", timeout=10).json()["checks"]["store"]
    expected = "postgresql" if use_postgres() else "sqlite"
    assert store.startswith(f"ok ({expected}, "), store
    on_disk = (daemon.home / "server" / "authsome.db").exists()
    assert on_disk is (not use_postgres())

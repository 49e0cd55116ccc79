"""``audit.retention_days`` in ``server/config.json``: the daemon prunes by it
(no environment variable set), and refuses to start on a misspelt key."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import store
from tests.support.daemon import base_env, run_cli, start_daemon
from tests.support.postgres import use_postgres


def _seed_old_events(home: Path, count: int) -> None:
    from authsome.audit.writer import record_event
    from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction

    (home / "server").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    engine = create_store_engine(store.database_url(home))
    migrate(engine)
    old = datetime.now(UTC) - timedelta(days=100)
    with transaction(make_session_factory(engine)) as db:
        for number in range(count):
            record_event(
                db, "login", "success", provider="openai", ts=old + timedelta(hours=number)
            )
    engine.dispose()
    if not use_postgres():
        (home / "server" / "authsome.db").chmod(0o600)


def _write_config(home: Path, document: object) -> None:
    path = home / "server" / "config.json"
    path.write_text(json.dumps(document))
    path.chmod(0o600)


def test_the_daemon_prunes_by_the_config_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _seed_old_events(home, 10)
    _write_config(home, {"audit": {"retention_days": 30}})
    assert "AUTHSOME_AUDIT_RETENTION_DAYS" not in base_env(home)
    daemon = start_daemon(home)
    try:
        deadline = time.monotonic() + 10
        events: list[str] = []
        while time.monotonic() < deadline and "audit_pruned" not in events:
            time.sleep(0.1)
            events = [
                row[0] for row in store.rows(home, "SELECT event FROM audit_events ORDER BY id")
            ]
        assert events == ["daemon_started", "audit_pruned"], events
        detail = json.loads(
            store.scalar(home, "SELECT detail FROM audit_events WHERE event = 'audit_pruned'")
        )
        assert detail["deleted"] == 10
    finally:
        assert daemon.stop() == 0


def test_a_misspelt_key_stops_the_daemon_with_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "server").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    _write_config(home, {"audit": {"retention": 30}})
    result = run_cli(
        ("daemon", "serve", "--port", "0", "--proxy-port", "0"), base_env(home), timeout=60
    )
    assert result.code == 2, (result.out, result.err)
    assert "unknown setting audit.retention" in result.err
    assert "audit.retention_days" in result.err  # the hint names the known key

"""Fail closed: while audit events cannot be written, no credential is served; a
change whose event cannot be written does not happen; retention prunes on start.

The fault is real, not mocked: a trigger (SQLite or PostgreSQL, whichever the
store is) that refuses inserts into ``audit_events`` (everything else in the
database keeps working).
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from authsome.crypto.identity_keys import IdentityKey
from tests.integration.conftest import OPENAI_KEY, Gateway
from tests.support import store
from tests.support.daemon import AUTHSOME, start_daemon
from tests.support.pop import home_key, signed
from tests.support.postgres import use_postgres

#: A child of ``authsome run`` that fetches each URL it reads on stdin.
FETCHER = 'while read url; do curl -sS -w "\\n%{http_code}\\n" "$url"; echo "=END="; done'


def _audit_check(url: str) -> str:
    return str(httpx.get(url + "/ready", timeout=10).json()["checks"]["audit"])


def _wait_for(url: str, prefix: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _audit_check(url).startswith(prefix):
            return
        time.sleep(0.1)
    raise AssertionError(f"audit check never became {prefix!r}: {_audit_check(url)}")


class Fetcher:
    """``authsome run -- sh -c FETCHER``: a run started before the fault."""

    def __init__(self, gateway: Gateway) -> None:
        self.process = subprocess.Popen(
            [AUTHSOME, "run", "--", "sh", "-c", FETCHER],
            env=gateway.daemon.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def get(self, url: str) -> tuple[str, str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(url + "\n")
        self.process.stdin.flush()
        lines: list[str] = []
        while (line := self.process.stdout.readline()) and line.strip() != "=END=":
            lines.append(line.rstrip("\n"))
        assert lines, "the run ended early"
        return lines[-1], "\n".join(lines[:-1])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=15)


def test_no_credentials_while_events_cannot_be_written(gateway: Gateway) -> None:
    daemon = gateway.daemon
    key = home_key(daemon.home)
    fetcher = Fetcher(gateway)
    try:
        _check_fail_closed(gateway, fetcher, daemon.home, key)
    finally:
        fetcher.close()


def _check_fail_closed(gateway: Gateway, fetcher: Fetcher, home: Path, key: IdentityKey) -> None:
    daemon = gateway.daemon
    models = "https://api.openai.com/v1/models"
    assert fetcher.get(models)[0] == "200"
    before = _connections(gateway)

    _break_quietly(home)
    # Nothing has tried to write since the fault, so nothing has noticed it yet.
    assert _audit_check(daemon.url) == "ok"
    # The very first request after it is refused: the proxy writes before it
    # uses a credential once its last write is older than the flush interval.
    status, body = fetcher.get(models)
    assert status == "503" and "audit log cannot be written" in body, body
    assert OPENAI_KEY not in body
    assert _audit_check(daemon.url).startswith("failed")
    _assert_resolve_refused(key, daemon.url, models)
    # A change whose event cannot be written rolls back: the connection stays.
    logout = daemon.cli("logout", "acme")
    assert logout.code == 5 and "audit log cannot be written" in logout.err, logout.err
    assert _connections(gateway) == before
    # A new run cannot even start.
    refused_run = daemon.cli("run", "--", "true")
    assert refused_run.code == 5 and "audit log cannot be written" in refused_run.err

    store.allow_audit_writes(home)
    _wait_for(daemon.url, "ok")
    assert fetcher.get(models)[0] == "200"
    assert daemon.cli("log", "--verify").code == 0
    time.sleep(0.6)
    refused = [
        (event, outcome, status)
        for event, outcome, status, detail in store.rows(
            home, "SELECT event, outcome, status, detail FROM audit_events ORDER BY id"
        )
        if "audit" in json.loads(detail or "{}").get("reason", "")
    ]
    logouts = (store.scalar(home, "SELECT count(*) FROM audit_events WHERE event = 'logout'"),)
    # The refusals were queued and written once the log worked again.
    assert ("proxy_request", "denied", 503) in refused
    assert ("credential_resolved", "denied", None) in refused
    assert logouts == (0,)
    # A committed logout has its event.
    assert daemon.cli("logout", "acme").code == 0
    count = store.scalar(
        home, "SELECT count(*) FROM audit_events WHERE event = 'logout' AND provider = 'acme'"
    )
    assert count == 1

    # Again, with POST /resolve as the first credential asked for after the fault.
    _break_quietly(home)
    assert _audit_check(daemon.url) == "ok"
    _assert_resolve_refused(key, daemon.url, models)
    assert _audit_check(daemon.url).startswith("failed")
    store.allow_audit_writes(home)
    _wait_for(daemon.url, "ok")


def _break_quietly(home: Path) -> None:
    """Plant the fault once every queued event is written, then let the last
    successful write age past the window in which it vouches for the store
    (the flush interval, 250 ms)."""
    _wait_until_written(home)
    store.refuse_audit_writes(home)
    time.sleep(0.6)


def _wait_until_written(home: Path) -> None:
    """Until the count of events stops changing for longer than a flush interval."""
    count, stable_since = -1, time.monotonic()
    deadline = stable_since + 10
    while time.monotonic() < deadline:
        now_count = store.scalar(home, "SELECT count(*) FROM audit_events")
        if now_count != count:
            count, stable_since = now_count, time.monotonic()
        elif time.monotonic() - stable_since > 0.6:
            return
        time.sleep(0.1)
    raise AssertionError("audit events kept arriving")


def _assert_resolve_refused(key: IdentityKey, url: str, target: str) -> None:
    resolved = signed(key, "POST", url + "/resolve", body=json.dumps({"url": target}).encode())
    assert resolved.status_code == 503, resolved.text
    assert resolved.json()["error"] == "audit_unavailable"
    assert "headers" not in resolved.json()


def _connections(gateway: Gateway) -> list[tuple[str, str]]:
    result = gateway.daemon.cli("connections", "list", "--json")
    assert result.code == 0, result.err
    return sorted((c["provider"], c["name"]) for c in result.json)


def test_retention_prunes_old_events_and_keeps_the_chain(tmp_path: Path) -> None:
    from authsome.audit.writer import record_event
    from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction

    home = tmp_path / "home"
    server = home / "server"
    server.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    engine = create_store_engine(store.database_url(home))
    migrate(engine)
    old = datetime.now(UTC) - timedelta(days=100)
    with transaction(make_session_factory(engine)) as db:
        for number in range(25):
            record_event(
                db, "login", "success", provider="openai", ts=old + timedelta(hours=number)
            )
    engine.dispose()
    if not use_postgres():
        (server / "authsome.db").chmod(0o600)

    daemon = start_daemon(home, env={"AUTHSOME_AUDIT_RETENTION_DAYS": "30"})
    try:
        deadline = time.monotonic() + 10
        rows: list[tuple[int, str, str]] = []
        while time.monotonic() < deadline:
            rows = store.rows(home, "SELECT id, event, detail FROM audit_events ORDER BY id")
            if any(event == "audit_pruned" for _, event, _ in rows):
                break
            time.sleep(0.1)
        events = [event for _, event, _ in rows]
        assert events == ["daemon_started", "audit_pruned"], events
        checkpoint = json.loads(rows[1][2])
        assert checkpoint["deleted"] == 25 and checkpoint["first_kept_id"] == 26
        assert rows[0][0] == 26
    finally:
        assert daemon.stop() == 0
    engine = create_store_engine(store.database_url(home))
    from authsome.audit.chain import verify_chain

    with make_session_factory(engine)() as session:
        report = verify_chain(session)
    engine.dispose()
    assert report.intact and report.first_id == 26

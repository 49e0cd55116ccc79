"""A replica and its database server: waiting at start, the server going away, keys.

Each test that stops the database starts a PostgreSQL server of its own
(the session's shared one must stay up for everyone else).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from authsome.crypto.identity_keys import IdentityKey
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import AUTHSOME, Daemon, base_env, start_daemon
from tests.support.pop import signed
from tests.support.postgres import PostgresServer, free_port, postgres_available
from tests.support.web import Browser

pytestmark = pytest.mark.skipif(
    not postgres_available() and not os.environ.get("CI"),
    reason="PostgreSQL is not installed (apt-get install postgresql; .ci/run does)",
)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    server = PostgresServer.create()
    server.port = free_port()  # known before it first starts
    try:
        yield server
    finally:
        server.destroy()


def _serve(home: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(home.parent / f"{home.name}-daemon.log", "ab")  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(
        [AUTHSOME, "daemon", "serve", "--port", str(port), "--proxy-port", "0"],
        env=base_env(home) | env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def test_serve_waits_for_the_database_and_answers_health_meanwhile(
    own_server: PostgresServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(
        home,
        port,
        {"AUTHSOME_DATABASE_URL": own_server.url(), "AUTHSOME_MASTER_KEY": _key()},
    )
    try:
        # The database server is not running: the daemon is alive, not ready.
        health = _until(lambda: httpx.get(url + "/health", timeout=2), "the starting daemon")
        assert health.status_code == 200
        assert health.json()["status"] == "starting" and health.json()["deployment_id"] is None
        waiting = httpx.get(url + "/ready", timeout=2)
        assert waiting.status_code == 503 and waiting.json()["error"] == "daemon_starting"
        log = home.parent / "home-daemon.log"
        _until(lambda: "waiting for the database" in log.read_text(), "the back-off message")
        time.sleep(1.0)
        assert log.read_text().count("waiting for the database") >= 2  # it kept trying
        assert process.poll() is None

        own_server.start()
        ready = _until(
            lambda: (r := httpx.get(url + "/ready", timeout=2)).status_code == 200 and r,
            "readiness once the database is up",
        )
        store_check = ready.json()["checks"]["store"]
        assert store_check.startswith("ok (postgresql, revision ") and "up to date" in store_check
        record = json.loads((home / "server" / "daemon.json").read_text())
        assert httpx.get(url + "/health").json()["deployment_id"] == record["deployment_id"]

        # The database goes away: /health still answers, /ready says why not.
        own_server.stop()
        assert httpx.get(url + "/health", timeout=5).status_code == 200
        away = httpx.get(url + "/ready", timeout=15)
        assert away.status_code == 503
        assert away.json()["checks"]["store"].startswith("failed")
        own_server.start()
        _until(
            lambda: httpx.get(url + "/ready", timeout=5).status_code == 200,
            "readiness after the database came back",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_gives_up_when_the_database_never_comes(tmp_path: Path) -> None:
    port = free_port()
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/authsome"
    process = _serve(
        tmp_path / "home",
        port,
        {
            "AUTHSOME_DATABASE_URL": nowhere,
            "AUTHSOME_MASTER_KEY": _key(),
            "AUTHSOME_DATABASE_WAIT_SECONDS": "1.5",
        },
    )
    assert process.wait(timeout=30) != 0
    log = (tmp_path / "home-daemon.log").read_text()
    assert "did not answer within 1.5 s" in log and "AUTHSOME_DATABASE_URL" in log


def test_sigterm_while_waiting_for_the_database_stops_at_once(tmp_path: Path) -> None:
    port = free_port()
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/authsome"
    process = _serve(
        tmp_path / "home", port, {"AUTHSOME_DATABASE_URL": nowhere, "AUTHSOME_MASTER_KEY": _key()}
    )
    try:
        _until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200,
            "the starting daemon",
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 8  # not the whole 60 s wait
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_replica_with_another_master_key_refuses_to_start(
    postgres_url: str, tmp_path: Path
) -> None:
    key = _key()
    first = start_daemon(
        tmp_path / "a", env={"AUTHSOME_DATABASE_URL": postgres_url, "AUTHSOME_MASTER_KEY": key}
    )
    try:
        for env in (
            {"AUTHSOME_MASTER_KEY": _key()},  # another key
            {},  # no key at all: never a fresh one over the team's data
        ):
            home = tmp_path / f"b{len(env)}"
            process = _serve(home, free_port(), {"AUTHSOME_DATABASE_URL": postgres_url, **env})
            assert process.wait(timeout=60) != 0
            log = (home.parent / f"{home.name}-daemon.log").read_text()
            assert "master key" in log.lower(), log
            assert not (home / "server" / "master.key").exists()
        # The same key: a second replica joins.
        second = start_daemon(
            tmp_path / "c",
            env={"AUTHSOME_DATABASE_URL": postgres_url, "AUTHSOME_MASTER_KEY": key},
        )
        assert second.record["deployment_id"] == first.record["deployment_id"]
        second.stop()
    finally:
        first.stop()


def test_replicas_starting_together_on_an_empty_database(postgres_url: str, tmp_path: Path) -> None:
    """One migrates and creates the deployment; the other waits for it, then joins."""
    env = {"AUTHSOME_DATABASE_URL": postgres_url, "AUTHSOME_MASTER_KEY": _key()}
    processes = [_serve(tmp_path / f"r{i}", free_port(), env) for i in range(3)]
    try:
        records = [
            _until(
                lambda i=i: (
                    (tmp_path / f"r{i}" / "server" / "daemon.json").exists()
                    and json.loads((tmp_path / f"r{i}" / "server" / "daemon.json").read_text())
                ),
                f"replica {i}",
                timeout=60,
            )
            for i in range(3)
        ]
        assert len({record["deployment_id"] for record in records}) == 1
        assert all(p.poll() is None for p in processes)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=20) == 0


@pytest.fixture
def pair(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    env = {"AUTHSOME_DATABASE_URL": postgres_url, "AUTHSOME_MASTER_KEY": _key()}
    a = start_daemon(tmp_path / "a", env=env, timeout=60)
    b = start_daemon(tmp_path / "b", env=env, timeout=60)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_a_claim_link_from_a_is_accepted_on_b(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    admin = a.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    assert admin.code == 0, admin.err
    agent = IdentityKey.generate()
    registered = signed(agent, "POST", a.url + "/identities", body=b"{}")
    assert registered.status_code == 201, registered.text
    claim_path = "/claim/" + registered.json()["claim_url"].rsplit("/claim/", 1)[1]
    with Browser(b.url) as browser:
        browser.login(EMAIL, PASSWORD)
        page = browser.get(claim_path)
        assert page.status_code == 200, page.text
        assert registered.json()["handle"] in page.text
        accepted = browser.post(
            claim_path, {"decision": "accept", "grant": "all"}, form_page=claim_path
        )
        assert accepted.status_code == 303, accepted.text
    # The decision made on B is what A answers, and the link is used up everywhere.
    status = signed(agent, "GET", a.url + "/identities/self").json()
    assert status["status"] == "active" and status["claim_state"] == "accepted"
    with Browser(a.url) as on_a:
        on_a.login(EMAIL, PASSWORD)
        assert on_a.get(claim_path).status_code == 404


def test_failed_sign_ins_count_across_replicas(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    admin = a.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    assert admin.code == 0, admin.err
    on_a, on_b = Browser(a.url), Browser(b.url)
    for attempt in range(6):  # five free failures per email, shared by both replicas
        (on_a if attempt % 2 == 0 else on_b).login(EMAIL, "wrong password!", expect=401)
    database = a.env["AUTHSOME_DATABASE_URL"]
    with psycopg.connect(database, autocommit=True) as db:
        counted = db.execute(
            "SELECT failures, blocked_until IS NOT NULL FROM sign_in_throttle "
            "WHERE key LIKE 'email:%'"
        ).fetchall()
        assert counted == [(6, True)]  # one counter, fed by both replicas
        # Stretch the 1 s block so the checks below cannot race its end.
        db.execute(
            "UPDATE sign_in_throttle SET blocked_until = '2999-01-01' WHERE key LIKE 'email:%'"
        )
    for browser in (on_a, on_b):
        limited = browser.login(EMAIL, PASSWORD, expect=429)
        assert int(limited.headers["retry-after"]) > 3600


def test_ready_fails_while_the_schema_is_at_a_revision_this_daemon_does_not_know(
    postgres_url: str, tmp_path: Path
) -> None:
    """A replica of a newer version migrated the shared database further: /ready says so."""
    daemon = start_daemon(
        tmp_path / "a", env={"AUTHSOME_DATABASE_URL": postgres_url, "AUTHSOME_MASTER_KEY": _key()}
    )
    try:
        with psycopg.connect(postgres_url, autocommit=True) as db:
            heads = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
            up_to_date = httpx.get(daemon.url + "/ready", timeout=10)
            assert up_to_date.status_code == 200, up_to_date.text
            assert up_to_date.json()["checks"]["store"].endswith("up to date)")

            with db.transaction():
                db.execute("DELETE FROM alembic_version")
                db.execute("INSERT INTO alembic_version (version_num) VALUES ('9999_from_a_newer')")
            newer = httpx.get(daemon.url + "/ready", timeout=10)
            assert newer.status_code == 503, newer.text
            assert newer.json()["ready"] is False
            store = newer.json()["checks"]["store"]
            assert store.startswith("failed: postgresql schema at 9999_from_a_newer, "), store
            assert f"this daemon expects {','.join(sorted(heads))}" in store
            assert httpx.get(daemon.url + "/health", timeout=10).status_code == 200

            db.execute("DELETE FROM alembic_version")  # stamped with nothing at all
            unstamped = httpx.get(daemon.url + "/ready", timeout=10)
            assert unstamped.status_code == 503, unstamped.text
            assert unstamped.json()["checks"]["store"].startswith(
                "failed: postgresql schema at nothing"
            )

            with db.transaction():
                for head in heads:
                    db.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", (head,))
            restored = httpx.get(daemon.url + "/ready", timeout=10)
            assert restored.status_code == 200, restored.text
            assert restored.json()["checks"]["store"].endswith("up to date)")
    finally:
        daemon.stop()

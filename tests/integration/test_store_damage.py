"""A lost or damaged store stops the daemon with the path and the restore command.

Authsome never recreates a store that held a deployment: an empty or missing
database file beside the home's master key, damaged pages behind a valid
SQLite header, and users or vaults without the deployment record are each
refused before anything is written. A new home, with its own key or one
given in ``AUTHSOME_MASTER_KEY``, still starts.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from tests.support import store
from tests.support.daemon import base_env, run_cli, start_daemon
from tests.support.vault import backup_with_key, daemon_with_key, resolves, serve_fails

API_KEY = "sk-damage-PLANTED-0123456789abcdef"
PASSPHRASE = "damage passphrase PLANTED 7"
PAGE = 4096  # SQLite's default page size, which the daemon keeps


def _stopped_home(home: Path) -> Path:
    """A home whose daemon held one API key and has stopped: its database file."""
    daemon = daemon_with_key(home, API_KEY)
    assert daemon.stop() == 0
    database = home / "server" / "authsome.db"
    assert not database.with_name("authsome.db-wal").exists(), "the stop folds the WAL in"
    return database


def _server_files(home: Path) -> dict[str, bytes]:
    server = home / "server"
    return {p.name: p.read_bytes() for p in server.iterdir() if p.is_file()}


def _refused_naming(home: Path, database: Path) -> str:
    output = serve_fails(home, {})
    assert str(database) in output, output
    assert "authsome vault restore" in output and "damaged" in output, output
    assert API_KEY not in output
    return output


@store.sqlite_only
def test_an_empty_database_beside_the_master_key_is_refused(home: Path) -> None:
    database = _stopped_home(home)
    database.write_bytes(b"")
    before = _server_files(home)
    output = _refused_naming(home, database)
    assert "master.key" in output, "the message says why the empty file is not a new store"
    assert _server_files(home) == before, "nothing written: no new deployment in the file"


@store.sqlite_only
def test_a_missing_database_beside_the_master_key_is_refused(home: Path) -> None:
    database = _stopped_home(home)
    database.unlink()
    _refused_naming(home, database)
    assert not database.exists()


@store.sqlite_only
def test_damaged_pages_behind_a_valid_header_are_refused_and_a_backup_restores(
    home: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "vault.bak"
    daemon = daemon_with_key(home, API_KEY)
    try:
        assert backup_with_key(daemon, backup, PASSPHRASE).code == 0
    finally:
        assert daemon.stop() == 0
    database = home / "server" / "authsome.db"
    image = bytearray(database.read_bytes())
    middle = len(image) // PAGE // 2 * PAGE
    assert middle >= PAGE, "the header page stays intact"
    image[middle : middle + PAGE] = b"\xa5" * PAGE
    database.write_bytes(bytes(image))
    before = _server_files(home)
    _refused_naming(home, database)
    assert _server_files(home) == before
    # The command the message names brings the home back.
    restored = run_cli(
        ["vault", "restore", str(backup), "--force", "--passphrase-stdin"],
        base_env(home),
        input=PASSPHRASE + "\n",
    )
    assert restored.code == 0, restored.err
    again = start_daemon(home)
    try:
        assert resolves(again, API_KEY)
    finally:
        again.stop()


def test_data_without_a_deployment_record_is_refused(home: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    deployment_id = daemon.record["deployment_id"]
    assert daemon.stop() == 0
    with store.connect(home) as connection:
        connection.execute("DELETE FROM deployment")
    output = serve_fails(home, {})
    assert "no deployment record" in output and "authsome vault restore" in output, output
    assert store.scalar(home, "SELECT count(*) FROM deployment") == 0
    assert store.scalar(home, "SELECT count(*) FROM vaults") == 1
    assert deployment_id not in output


def test_a_new_home_still_starts_with_its_own_key_or_a_given_one(tmp_path: Path) -> None:
    own = start_daemon(tmp_path / "own")
    try:
        assert (tmp_path / "own" / "server" / "master.key").exists()
    finally:
        assert own.stop() == 0
    key = base64.b64encode(os.urandom(32)).decode()
    given = start_daemon(tmp_path / "given", env={"AUTHSOME_MASTER_KEY": key})
    try:
        assert not (tmp_path / "given" / "server" / "master.key").exists()
    finally:
        assert given.stop() == 0
    again = start_daemon(tmp_path / "given", env={"AUTHSOME_MASTER_KEY": key})
    assert again.stop() == 0

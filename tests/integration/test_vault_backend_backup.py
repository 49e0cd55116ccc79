"""`authsome vault backend|backup|restore` against real daemons.

The OS keyring is a real file-based backend (keyrings.alt's PlaintextKeyring)
kept under the test's temporary folder via XDG_DATA_HOME.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from tests.support import store
from tests.support.daemon import base_env, run_cli, start_daemon
from tests.support.postgres import use_postgres
from tests.support.vault import (
    backup_with_key,
    daemon_with_key,
    honest_keyring,
    keyring_env,
    resolves,
    serve_fails,
)

API_KEY = "sk-backup-PLANTED-0123456789abcdef"
PASSPHRASE = "backup passphrase PLANTED 42"


def test_move_to_keyring_and_back_verified_and_restartable(home: Path, tmp_path: Path) -> None:
    env = keyring_env(tmp_path)
    daemon = daemon_with_key(home, API_KEY, env)
    key_file = home / "server" / "master.key"
    key = key_file.read_text().strip()
    try:
        moved = daemon.cli("vault", "backend", "keyring", "--json")
        assert moved.code == 0, moved.err
        assert moved.json["changed"] and "keyring" in moved.json["key_location"]
        assert not key_file.exists(), "the file copy goes once the keyring copy is verified"
        account = f"master-key:{daemon.record['deployment_id']}"
        assert honest_keyring(tmp_path).get_password("authsome", account) == key
        assert daemon.cli("vault", "rotate-key").code == 0  # rotation inside the keyring
        assert resolves(daemon, API_KEY)
    finally:
        assert daemon.stop() == 0
    again = start_daemon(home, env=env)  # the key now comes from the keyring
    try:
        assert resolves(again, API_KEY)
        back = again.cli("vault", "backend", "file", "--json")
        assert back.code == 0, back.err
        assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not (home / "server" / "keyring.json").exists()
    finally:
        assert again.stop() == 0
    third = start_daemon(home, env=env)
    try:
        assert resolves(third, API_KEY)
    finally:
        third.stop()


def test_an_unreadable_keyring_stops_the_daemon_with_a_clear_error(
    home: Path, tmp_path: Path
) -> None:
    env = keyring_env(tmp_path)
    daemon = daemon_with_key(home, API_KEY, env)
    try:
        assert daemon.cli("vault", "backend", "keyring").code == 0
    finally:
        daemon.stop()
    output = serve_fails(home, {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert "keyring" in output.lower()
    assert not (home / "server" / "master.key").exists(), "never a fresh key over the data"


def test_keyring_move_fails_cleanly_without_a_keyring(home: Path) -> None:
    daemon = daemon_with_key(
        home, API_KEY, {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    try:
        result = daemon.cli("vault", "backend", "keyring")
        assert result.code == 1 and "keyring" in result.err.lower()
        assert (home / "server" / "master.key").exists()
        assert resolves(daemon, API_KEY)
    finally:
        daemon.stop()


def test_env_backend_never_prints_the_key_and_removes_the_copy_once_in_use(home: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    key_file = home / "server" / "master.key"
    key = key_file.read_text().strip()
    try:
        advice = daemon.cli("vault", "backend", "env")
        assert advice.code == 0
        assert key not in advice.out + advice.err
        assert "AUTHSOME_MASTER_KEY" in advice.out and str(key_file) in advice.out
        assert key_file.exists()
    finally:
        daemon.stop()
    from_env = start_daemon(home, env={"AUTHSOME_MASTER_KEY": key})
    try:
        done = from_env.cli("vault", "backend", "env", "--json")
        assert done.code == 0 and done.json["changed"]
        assert not key_file.exists()
        assert resolves(from_env, API_KEY)
    finally:
        from_env.stop()


@store.sqlite_only
def test_backup_and_restore_into_a_lost_server_folder(home: Path, tmp_path: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    backup = tmp_path / "vault.bak"
    try:
        made = backup_with_key(daemon, backup, PASSPHRASE)
        assert made.code == 0, made.err
        plain = daemon.cli("vault", "backup", str(tmp_path / "nokey.bak"))
        assert plain.code == 0, plain.err
        refused = daemon.cli(
            "vault", "restore", str(backup), "--passphrase-stdin", input=PASSPHRASE + "\n"
        )
        assert refused.code == 4 and "running" in refused.err
    finally:
        assert daemon.stop() == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    data = backup.read_bytes()
    assert API_KEY.encode() not in data and PASSPHRASE.encode() not in data
    key = base64.b64decode((home / "server" / "master.key").read_text())
    assert key not in data and base64.b64encode(key) not in data
    assert b'"key": null' in (tmp_path / "nokey.bak").read_bytes()[:2000]

    # The disk holding server/ is lost: restore from the backup that has the key.
    for path in sorted((home / "server").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    env = base_env(home)
    wrong = run_cli(
        ["vault", "restore", str(backup), "--passphrase-stdin"],
        env,
        input="not the passphrase at all\n",
    )
    assert wrong.code == 1 and "passphrase" in wrong.err
    restored = run_cli(
        ["vault", "restore", str(backup), "--passphrase-stdin", "--json"],
        env,
        input=PASSPHRASE + "\n",
    )
    assert restored.code == 0, restored.err
    assert stat.S_IMODE((home / "server" / "master.key").stat().st_mode) == 0o600
    again = start_daemon(home)
    try:
        assert resolves(again, API_KEY)
    finally:
        assert again.stop() == 0

    # A store with data is only replaced with --force, and then kept beside.
    refused = run_cli(["vault", "restore", str(tmp_path / "nokey.bak")], env)
    assert refused.code == 4 and "--force" in refused.err
    forced = run_cli(["vault", "restore", str(tmp_path / "nokey.bak"), "--force", "--json"], env)
    assert forced.code == 0, forced.err
    assert Path(forced.json["replaced_copy"]).exists()
    last = start_daemon(home)
    try:
        assert resolves(last, API_KEY)
    finally:
        last.stop()


@store.sqlite_only
def test_backup_with_key_needs_a_long_passphrase(home: Path, tmp_path: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    try:
        short = backup_with_key(daemon, tmp_path / "x.bak", "short")
        assert short.code == 2 and "at least" in short.err
        assert not (tmp_path / "x.bak").exists()
    finally:
        daemon.stop()


@store.sqlite_only
def test_restore_refuses_a_damaged_backup(home: Path, tmp_path: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    backup = tmp_path / "vault.bak"
    try:
        assert daemon.cli("vault", "backup", str(backup)).code == 0
    finally:
        daemon.stop()
    damaged = tmp_path / "damaged.bak"
    data = bytearray(backup.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    result = run_cli(["vault", "restore", str(damaged), "--force"], base_env(home))
    assert result.code == 2 and "damaged" in result.err


def test_startup_repairs_loose_permissions(home: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    daemon.stop()
    (home).chmod(0o755)
    private = ("master.key",) if use_postgres() else ("master.key", "authsome.db")
    for name in private:
        (home / "server" / name).chmod(0o644)
    again = start_daemon(home)
    try:
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        for name in private:
            assert stat.S_IMODE((home / "server" / name).stat().st_mode) == 0o600
        assert "tightened the permissions" in again.log_text()
    finally:
        again.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file owned by another user")
def test_startup_refuses_key_files_owned_by_another_user(home: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    daemon.stop()
    os.chown(home / "server" / ("master.key" if use_postgres() else "authsome.db"), 65534, 65534)
    output = serve_fails(home, {})
    assert "belongs to another user" in output


@store.sqlite_only
def test_corrupt_database_names_path_and_the_restore_command(home: Path) -> None:
    (home / "server").mkdir(parents=True)
    database = home / "server" / "authsome.db"
    database.write_bytes(b"definitely not sqlite " * 500)
    output = serve_fails(home, {})
    assert str(database) in output and "authsome vault restore" in output
    assert database.read_bytes().startswith(b"definitely not sqlite")


@pytest.mark.skipif(not use_postgres(), reason="about a PostgreSQL store; this run uses SQLite")
def test_backup_of_a_postgresql_store_points_to_its_own_tools(home: Path, tmp_path: Path) -> None:
    daemon = daemon_with_key(home, API_KEY)
    try:
        refused = daemon.cli("vault", "backup", str(tmp_path / "vault.bak"))
        assert refused.code == 4 and "pg_dump" in refused.err
        assert not (tmp_path / "vault.bak").exists()
        restore = daemon.cli("vault", "restore", str(tmp_path / "vault.bak"), "--force")
        assert restore.code != 0
    finally:
        daemon.stop()

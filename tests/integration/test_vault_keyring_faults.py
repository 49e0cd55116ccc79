"""The OS keyring misbehaving: a key that does not read back, an entry that vanished.

The keyring is a real file backend (keyrings.alt's PlaintextKeyring under
the test's XDG_DATA_HOME); ``tests/support/lying_keyring.py`` is the same
backend except that it reads back another key than the one it was given.
Whatever the keyring does, the key file stays until a verified copy exists,
the command fails with an exit code, and a missing entry is an error, never
"no key" (no new key is made, no restore goes ahead as if there were none).
"""

from __future__ import annotations

import base64
from pathlib import Path

from tests.support import store
from tests.support.daemon import Daemon, base_env, run_cli, start_daemon
from tests.support.vault import (
    backup_with_key,
    daemon_with_key,
    honest_keyring,
    keyring_env,
    resolves,
    serve_fails,
)

API_KEY = "sk-keyring-faults-0123456789abcdef"
PASSPHRASE = "keyring faults backup passphrase"


def _in_keyring(tmp_path: Path, home: Path) -> Daemon:
    """A set-up daemon whose master key was moved (verified) into the honest keyring."""
    daemon = daemon_with_key(home, API_KEY, keyring_env(tmp_path))
    moved = daemon.cli("vault", "backend", "keyring")
    assert moved.code == 0, moved.err
    assert not (home / "server" / "master.key").exists()
    return daemon


def test_a_keyring_that_reads_back_another_key_keeps_the_file(home: Path, tmp_path: Path) -> None:
    env = keyring_env(tmp_path, lying="")
    daemon = daemon_with_key(home, API_KEY, env)
    key_file = home / "server" / "master.key"
    before = key_file.read_bytes()
    try:
        moved = daemon.cli("vault", "backend", "keyring", "--json")
        assert moved.code == 1, (moved.code, moved.out, moved.err)
        assert moved.json["error"] == "vault_key_error"
        assert "did not keep" in moved.json["message"]
        assert key_file.read_bytes() == before, "the file copy stays"
        assert not (home / "server" / "keyring.json").exists(), "the pointer never moved"
        assert resolves(daemon, API_KEY)
        assert base64.b64decode(before.strip()).hex() not in moved.out + moved.err
    finally:
        assert daemon.stop() == 0
    again = start_daemon(home, env=env)  # still opens, from the file
    try:
        assert resolves(again, API_KEY)
    finally:
        again.stop()


def test_a_rotation_whose_new_key_does_not_read_back_fails_and_keeps_the_key(
    home: Path, tmp_path: Path
) -> None:
    daemon = _in_keyring(tmp_path, home)
    assert daemon.stop() == 0
    lying = start_daemon(home, env=keyring_env(tmp_path, lying="#new"))
    account = f"master-key:{lying.record['deployment_id']}"
    current = honest_keyring(tmp_path).get_password("authsome", account)
    try:
        rotated = lying.cli("vault", "rotate-key")
        assert rotated.code == 1, (rotated.code, rotated.err)
        assert "did not keep" in rotated.err
        assert resolves(lying, API_KEY), "the current key keeps working"
    finally:
        assert lying.stop() == 0
    assert honest_keyring(tmp_path).get_password("authsome", account) == current
    honest = start_daemon(home, env=keyring_env(tmp_path))
    try:
        assert resolves(honest, API_KEY)
        assert honest_keyring(tmp_path).get_password("authsome", account + "#new") is None
    finally:
        honest.stop()


def test_a_missing_keyring_entry_stops_the_daemon_and_never_makes_a_key(
    home: Path, tmp_path: Path
) -> None:
    daemon = _in_keyring(tmp_path, home)
    account = f"master-key:{daemon.record['deployment_id']}"
    assert daemon.stop() == 0
    honest_keyring(tmp_path).delete_password("authsome", account)
    output = serve_fails(home, keyring_env(tmp_path))
    assert "entry is missing" in output and account in output, output[-2000:]
    assert not (home / "server" / "master.key").exists(), "never a fresh key over the data"
    assert store.scalar(home, "SELECT count(*) FROM connections") == 1


@store.sqlite_only
def test_restore_into_a_home_whose_keyring_entry_is_missing_is_refused(
    home: Path, tmp_path: Path
) -> None:
    daemon = _in_keyring(tmp_path, home)
    backup = tmp_path / "vault.bak"
    account = f"master-key:{daemon.record['deployment_id']}"
    try:
        made = backup_with_key(daemon, backup, PASSPHRASE)
        assert made.code == 0, made.err
    finally:
        assert daemon.stop() == 0
    honest_keyring(tmp_path).delete_password("authsome", account)
    database = home / "server" / "authsome.db"
    before = database.read_bytes()
    env = base_env(home) | keyring_env(tmp_path)
    restored = run_cli(
        ["vault", "restore", str(backup), "--force", "--passphrase-stdin"],
        env,
        input=PASSPHRASE + "\n",
    )
    assert restored.code != 0, restored.out
    assert "entry is missing" in restored.err and account in restored.err, restored.err
    assert not (home / "server" / "master.key").exists(), "no second key beside the keyring's"
    assert database.read_bytes() == before, "the database was not replaced"


def test_a_keyring_entry_removed_under_a_running_daemon(home: Path, tmp_path: Path) -> None:
    """Rotation refuses (it could not keep the old key); moving to the file rescues the key."""
    daemon = _in_keyring(tmp_path, home)
    account = f"master-key:{daemon.record['deployment_id']}"
    try:
        honest_keyring(tmp_path).delete_password("authsome", account)
        rotated = daemon.cli("vault", "rotate-key")
        assert rotated.code == 1 and "no longer holds" in rotated.err, rotated.err
        assert honest_keyring(tmp_path).get_password("authsome", account + "#new") is None
        assert resolves(daemon, API_KEY)
        rescued = daemon.cli("vault", "backend", "file")
        assert rescued.code == 0, rescued.err
        assert (home / "server" / "master.key").exists()
    finally:
        assert daemon.stop() == 0
    again = start_daemon(home, env=keyring_env(tmp_path))
    try:
        assert resolves(again, API_KEY)
        assert again.cli("vault", "rotate-key").code == 0
        assert resolves(again, API_KEY)
    finally:
        again.stop()

"""`authsome vault rotate-key`: re-wrapping, the kept old key, refusals, and crashes.

The crash tests kill the daemon (``os._exit`` via AUTHSOME_TEST_FAULT) at
every step of a rotation, restart it, and check that the vault opens and
every credential decrypts, with the old key or the new one.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from authsome.crypto.envelope import verify_key_check
from authsome.daemon.services.backup import parse_backup
from authsome.daemon.services.key_rotation import FAULT_EXIT_CODE, FAULT_POINTS
from authsome.errors import VaultKeyError
from tests.conftest import EMAIL, PASSWORD
from tests.support import store
from tests.support.daemon import Daemon, start_daemon

KEYS = {"openai": "sk-rotate-PLANTED-0123456789abcdef", "anthropic": "sk-ant-rotate-PLANTED-987654"}


def _setup(home: Path, env: dict[str, str] | None = None) -> Daemon:
    daemon = start_daemon(home, env=env)
    assert daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n").code == 0
    for provider, key in KEYS.items():
        login = daemon.cli("login", provider, "--key-stdin", input=key + "\n")
        assert login.code == 0, login.err
    return daemon


def _assert_credentials_decrypt(daemon: Daemon) -> None:
    for provider, url in (
        ("openai", "https://api.openai.com/v1/models"),
        ("anthropic", "https://api.anthropic.com/v1/messages"),
    ):
        from tests.support.pop import home_key, signed

        response = signed(
            home_key(daemon.home),
            "POST",
            daemon.url + "/resolve",
            body=f'{{"url": "{url}"}}'.encode(),
        )
        assert response.status_code == 200, response.text
        assert any(KEYS[provider] in value for value in response.json()["headers"].values())


def _key_files(home: Path) -> dict[str, bytes]:
    server = home / "server"
    return {p.name: base64.b64decode(p.read_text()) for p in server.glob("master.key*")}


def test_rotate_key_rewraps_and_keeps_the_old_key(home: Path) -> None:
    daemon = _setup(home)
    try:
        before = _key_files(home)["master.key"]
        result = daemon.cli("vault", "rotate-key", "--json")
        assert result.code == 0, result.err
        assert result.json["vaults"] == 1
        files = _key_files(home)
        assert files["master.key.old"] == before
        assert files["master.key"] != before and "master.key.new" not in files
        assert (home / "server" / "master.key.old").stat().st_mode & 0o777 == 0o600
        _assert_credentials_decrypt(daemon)  # live, with cached and uncached data keys
        assert before.hex() not in result.out + result.err
    finally:
        assert daemon.stop() == 0
    again = start_daemon(home)  # the new key opens the store after a restart
    try:
        _assert_credentials_decrypt(again)
        events = again.cli("log", "--json")
        if events.code == 0:
            assert "vault_key_rotated" in events.out
    finally:
        again.stop()


def _backup_key_check(backup: Path, tmp_path: Path) -> bytes:
    """The key check inside a backup file (what its master key must open)."""
    image = tmp_path / "backup-image.db"
    image.write_bytes(parse_backup(backup.read_bytes()).database)
    connection = sqlite3.connect(image)
    try:
        (check,) = connection.execute("SELECT key_check FROM deployment").fetchone()
    finally:
        connection.close()
    return bytes(check)


@store.sqlite_only  # backups cover the SQLite store
def test_a_second_rotation_keeps_both_old_keys(home: Path, tmp_path: Path) -> None:
    daemon = _setup(home)
    backup = tmp_path / "before-rotations.bak"
    try:
        original = _key_files(home)["master.key"]
        assert daemon.cli("vault", "backup", str(backup)).code == 0
        assert daemon.cli("vault", "rotate-key").code == 0
        first = _key_files(home)["master.key"]
        second_rotation = daemon.cli("vault", "rotate-key")
        assert second_rotation.code == 0, second_rotation.err
        files = _key_files(home)
        kept = [name for name in files if name.startswith("master.key.old.")]
        assert len(kept) == 1, files.keys()
        assert files[kept[0]] == original, "the key from before the first rotation is kept"
        assert files["master.key.old"] == first, "the key the second rotation retired"
        assert len({files["master.key"], first, original}) == 3
        assert (home / "server" / kept[0]).stat().st_mode & 0o777 == 0o600
        assert str(home / "server" / kept[0]) in second_rotation.out, second_rotation.out
        assert original.hex() not in second_rotation.out + second_rotation.err
        # The kept key still opens the backup made before the rotations; the others do not.
        check = _backup_key_check(backup, tmp_path)
        verify_key_check(files[kept[0]], check)
        for other in (files["master.key.old"], files["master.key"]):
            with pytest.raises(VaultKeyError):
                verify_key_check(other, check)
        _assert_credentials_decrypt(daemon)
        third = daemon.cli("vault", "rotate-key", "--json")  # each rotation keeps one more
        assert third.code == 0, third.err
        assert third.json["earlier_old_key_location"] not in (None, str(home / "server" / kept[0]))
        assert _key_files(home)[kept[0]] == original
    finally:
        assert daemon.stop() == 0


def test_rotation_refuses_a_key_from_the_environment(home: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    daemon = _setup(home, env={"AUTHSOME_MASTER_KEY": key})
    try:
        result = daemon.cli("vault", "rotate-key")
        assert result.code == 4
        assert "AUTHSOME_MASTER_KEY" in result.err and "vault backend file" in result.err
        assert key not in result.out + result.err
        _assert_credentials_decrypt(daemon)
    finally:
        daemon.stop()


def _serve_until_fault(home: Path, point: str) -> int:
    """Start the daemon with a fault armed, ask for a rotation, return its exit code."""
    daemon = start_daemon(home, env={"AUTHSOME_TEST_FAULT": point})
    try:
        result = daemon.cli("vault", "rotate-key", timeout=30)
        assert result.code != 0, f"{point}: the rotation should have died"
        return daemon.process.wait(timeout=15)
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_at_any_step_leaves_the_old_or_the_new_key_working(home: Path, point: str) -> None:
    daemon = _setup(home)
    assert daemon.stop() == 0
    old = _key_files(home)["master.key"]
    assert _serve_until_fault(home, point) == FAULT_EXIT_CODE
    restarted = start_daemon(home)
    try:
        _assert_credentials_decrypt(restarted)
        files = _key_files(home)
        assert "master.key.new" not in files, "the start finishes or undoes the rotation"
        committed = FAULT_POINTS.index(point) >= FAULT_POINTS.index("rotate:committed")
        if committed:
            assert files["master.key"] != old and files["master.key.old"] == old
        else:
            assert files["master.key"] == old
        # And a later rotation still works from there.
        assert restarted.cli("vault", "rotate-key").code == 0
        _assert_credentials_decrypt(restarted)
    finally:
        assert restarted.stop() == 0


def test_resolves_keep_working_during_rotations(home: Path) -> None:
    daemon = _setup(home)
    failures: list[str] = []
    done = time.monotonic() + 6
    try:
        from tests.support.pop import home_key, signed

        key = home_key(home)

        def resolve_loop() -> None:
            while time.monotonic() < done:
                response = signed(
                    key,
                    "POST",
                    daemon.url + "/resolve",
                    body=b'{"url": "https://api.openai.com/v1/models"}',
                )
                if response.status_code != 200 or KEYS["openai"] not in response.text:
                    failures.append(f"{response.status_code} {response.text[:100]}")

        import threading

        threads = [threading.Thread(target=resolve_loop) for _ in range(4)]
        for thread in threads:
            thread.start()
        rotations = 0
        while time.monotonic() < done - 1:
            rotated = signed(key, "POST", daemon.url + "/vault/rotate-key")
            assert rotated.status_code == 200, rotated.text
            rotations += 1
        for thread in threads:
            thread.join()
        assert rotations >= 2
        assert failures == []
    finally:
        assert daemon.stop() == 0
    again = start_daemon(home)
    try:
        _assert_credentials_decrypt(again)
    finally:
        again.stop()


def test_fault_hook_is_inert_for_other_values(home: Path) -> None:
    daemon = _setup(home)
    assert daemon.stop() == 0
    daemon = start_daemon(home, env={"AUTHSOME_TEST_FAULT": "rotate:no-such-step"})
    try:
        assert daemon.cli("vault", "rotate-key").code == 0
        assert daemon.process.poll() is None
        assert httpx.get(daemon.url + "/health").status_code == 200
    finally:
        assert daemon.stop() == 0

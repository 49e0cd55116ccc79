"""Identity keys others could read: repaired when they are ours, refused when not, on use.

``client/identities/<handle>.key`` signs every request, so a copy in another
user's hands is that agent. Doctor reports loose modes; here the CLI (each
time it loads the key) and the daemon (at start) repair them, or refuse a
file that another user owns.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import AUTHSOME, Daemon, base_env, start_daemon

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to make a file owned by another user"
)
NOBODY = 65534


def _key_file(home: Path) -> Path:
    (key,) = (home / "client" / "identities").glob("*.key")
    return key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loosen(home: Path) -> Path:
    key = _key_file(home)
    key.chmod(0o644)
    key.parent.chmod(0o755)
    (home / "client").chmod(0o755)
    return key


def test_the_cli_makes_a_loose_key_private_before_using_it(claimed: Daemon) -> None:
    key = _loosen(claimed.home)
    result = claimed.cli("whoami", "--json")
    assert result.code == 0, result.err
    assert result.json["status"] == "active"
    assert _mode(key) == 0o600 and _mode(key.parent) == 0o700
    assert "tightened the permissions" in result.err and str(key) in result.err
    again = claimed.cli("whoami")
    assert again.code == 0 and "tightened" not in again.err, "repaired once"


@needs_root
def test_the_cli_refuses_a_loose_key_owned_by_another_user(claimed: Daemon) -> None:
    key = _key_file(claimed.home)
    os.chown(key, NOBODY, NOBODY)
    key.chmod(0o644)
    result = claimed.cli("whoami")
    assert result.code == 2, (result.code, result.err)
    assert "belongs to another user" in result.err and str(key) in result.err
    assert _mode(key) == 0o644, "another user's file is not changed"
    assert "BEGIN PRIVATE KEY" not in result.out + result.err


def test_the_daemon_repairs_loose_identity_keys_at_start(claimed: Daemon) -> None:
    assert claimed.stop() == 0
    key = _loosen(claimed.home)
    again = start_daemon(claimed.home)
    try:
        assert _mode(key) == 0o600
        assert _mode(key.parent) == 0o700 and _mode(claimed.home / "client") == 0o700
        assert f"tightened the permissions of {key}" in again.log_text()
    finally:
        again.stop()


@needs_root
def test_the_daemon_refuses_to_start_with_a_foreign_identity_key(claimed: Daemon) -> None:
    assert claimed.stop() == 0
    key = _key_file(claimed.home)
    os.chown(key, NOBODY, NOBODY)
    done = subprocess.run(
        [AUTHSOME, "daemon", "serve", "--port", "0", "--proxy-port", "0"],
        env=base_env(claimed.home),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "belongs to another user" in done.stdout + done.stderr

"""Steps the vault tests share: a real file keyring under the test's folder, a daemon
holding one API key, whether that key still resolves, a backup with the key, a
``daemon serve`` that must fail.

The keyring is keyrings.alt's PlaintextKeyring kept under ``<tmp>/xdg`` (via
XDG_DATA_HOME), or ``tests/support/lying_keyring.py``'s LyingKeyring over the
same file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from keyrings.alt.file import PlaintextKeyring

from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import AUTHSOME, CliResult, Daemon, base_env, start_daemon
from tests.support.lying_keyring import ACCOUNTS_ENV
from tests.support.pop import home_key, signed

ROOT = Path(__file__).resolve().parents[2]


def keyring_env(tmp_path: Path, *, lying: str | None = None) -> dict[str, str]:
    """An honest file keyring, or (``lying``: accounts ending so) the lying one."""
    env = {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    if lying is not None:
        env |= {
            "PYTHON_KEYRING_BACKEND": "tests.support.lying_keyring.LyingKeyring",
            "PYTHONPATH": str(ROOT),
            ACCOUNTS_ENV: lying,
        }
    return env


def honest_keyring(tmp_path: Path) -> PlaintextKeyring:
    """The keyring of ``keyring_env(tmp_path)``, read in the test's own process."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "xdg" / "python_keyring" / "keyring_pass.cfg")
    return backend


def daemon_with_key(home: Path, api_key: str, env: dict[str, str] | None = None) -> Daemon:
    """A daemon (with ``env``), an identity claimed by the admin, ``api_key`` as openai's."""
    daemon = start_daemon(home, env=env)
    assert daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n").code == 0
    assert daemon.cli("login", "openai", "--key-stdin", input=api_key + "\n").code == 0
    return daemon


def resolves(daemon: Daemon, api_key: str, home: Path | None = None) -> bool:
    """Whether ``daemon`` hands out ``api_key`` for api.openai.com to the identity of
    ``home`` (the daemon's own home unless given)."""
    body = b'{"url": "https://api.openai.com/v1/models"}'
    key = home_key(home or daemon.home)
    answer = signed(key, "POST", daemon.url + "/resolve", body=body)
    return answer.status_code == 200 and api_key in answer.text


def backup_with_key(daemon: Daemon, path: Path, passphrase: str) -> CliResult:
    """``vault backup --include-key``, the key sealed with ``passphrase``."""
    return daemon.cli(
        "vault",
        "backup",
        str(path),
        "--include-key",
        "--passphrase-stdin",
        input=passphrase + "\n",
    )


def serve_fails(home: Path, env: dict[str, str]) -> str:
    """``daemon serve`` for ``home`` (with ``env``), which must exit with an error: its output."""
    done = subprocess.run(
        [AUTHSOME, "daemon", "serve", "--port", "0", "--proxy-port", "0"],
        env=base_env(home) | env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    return done.stdout + done.stderr

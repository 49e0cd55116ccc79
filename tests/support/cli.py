"""Helpers for CLI tests: a claimed daemon, an autostarting environment, custom
providers, audit rows, completions."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support import store
from tests.support.daemon import AUTHSOME, Daemon, base_env, start_daemon
from tests.support.postgres import free_port

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
EMAIL = "admin@example.com"


def start_claimed(home: Path) -> Daemon:
    """A fresh daemon with an identity claimed by the first (admin) principal."""
    daemon = start_daemon(home)
    result = daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    if result.code != 0:
        daemon.stop()
        raise RuntimeError(f"init failed: {result.err}")
    return daemon


def autostart_env(home: Path) -> tuple[dict[str, str], int]:
    """``base_env(home)`` pointing the CLI at a free loopback port, where the first
    command that needs the daemon starts it: the environment and the port."""
    port = free_port()
    return base_env(home, AUTHSOME_BASE_URL=f"http://127.0.0.1:{port}"), port


def register_provider(daemon: Daemon, definition: dict[str, Any]) -> None:
    path = daemon.home.parent / f"{definition['name']}.json"
    path.write_text(json.dumps(definition))
    result = daemon.cli("provider", "register", str(path), "--force")
    assert result.code == 0, result.err


def api_key_provider(name: str, host: str, env_var: str | None = None) -> dict[str, Any]:
    """A custom API-key provider without a key pattern: any key may be planted."""
    api_key: dict[str, Any] = {"header_name": "Authorization", "header_prefix": "Bearer"}
    if env_var:
        api_key["env_var"] = env_var
    return {
        "schema_version": 1,
        "name": name,
        "display_name": name.title(),
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": [host],
        "api_key": api_key,
    }


def audit_rows(home: Path, event: str) -> list[tuple[Any, ...]]:
    """(outcome, identity, provider, connection, detail) of each ``event``, oldest first."""
    rows = store.rows(
        home,
        "SELECT outcome, identity, provider, connection, detail FROM audit_events "
        "WHERE event = ? ORDER BY id",
        event,
    )
    return [(*row[:4], json.loads(row[4] or "{}")) for row in rows]


def eventually(check: Callable[[], T], *, timeout: float = 10.0) -> T:
    """``check()``'s result once it stops raising AssertionError (batched audit events)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def complete(daemon: Daemon, words: str) -> list[str]:
    """What bash completion offers for the command line ``words`` (its last word being
    typed), as the shell script asks the CLI for it, in ``daemon``'s environment."""
    env = daemon.env | {
        "_AUTHSOME_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run([AUTHSOME], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # One "type,value" line each; nothing to offer is one empty line.
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]

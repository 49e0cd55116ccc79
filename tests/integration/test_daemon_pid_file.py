"""A background daemon keeps ``server/daemon.pid`` (and its log) under AUTHSOME_HOME while it runs."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.daemon import base_env, run_cli


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_pid_file_names_the_running_background_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = base_env(home)
    pid_file = home / "server" / "daemon.pid"
    started = run_cli(["daemon", "start", "--port", "0", "--proxy-port", "0", "--json"], env)
    try:
        assert started.code == 0, started.err
        pid = started.json["pid"]
        assert pid_file.read_text().strip() == str(pid)
        assert (pid_file.stat().st_mode & 0o777) == 0o600
        assert _alive(pid)
        assert (home / "server" / "daemon.log").is_file()
        status = run_cli(["daemon", "status", "--json"], env)
        assert status.code == 0 and status.json["running"] is True
    finally:
        stopped = run_cli(["daemon", "stop"], env)
    assert stopped.code == 0, stopped.err
    assert not pid_file.exists(), "a cleanly stopped daemon removes its pid file"

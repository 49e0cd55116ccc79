"""Starting the daemon: master key safety, port conflicts, per-home daemons."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EMAIL, PASSWORD
from tests.support import store
from tests.support.cli import autostart_env
from tests.support.daemon import AUTHSOME, Daemon, base_env, run_cli, start_daemon


def _serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `daemon serve` expecting it to refuse to start (bounded by a timeout)."""
    return subprocess.run(
        [AUTHSOME, "daemon", "serve", "--port", "0", "--proxy-port", "0", *args],
        env=base_env(home) | (env or {}),
        capture_output=True,
        text=True,
        timeout=30,
    )


def _store_key(daemon: Daemon) -> None:
    assert daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n").code == 0
    login = daemon.cli("login", "openai", "--key-stdin", input="sk-test-0123456789abcdefghij\n")
    assert login.code == 0, login.err


def test_home_and_key_file_are_private(daemon: Daemon) -> None:
    assert (daemon.home.stat().st_mode & 0o777) == 0o700
    key_file = daemon.home / "server" / "master.key"
    assert (key_file.stat().st_mode & 0o777) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32


def test_missing_master_key_with_existing_data_refuses_to_start(home: Path) -> None:
    daemon = start_daemon(home)
    _store_key(daemon)
    assert daemon.stop() == 0
    key_file = home / "server" / "master.key"
    key_file.unlink()
    refused = _serve(home)
    assert refused.returncode != 0
    assert "master key" in (refused.stdout + refused.stderr).lower()
    assert not key_file.exists(), "a replacement key must never be generated over existing data"


def test_wrong_master_key_refuses_to_start_and_changes_nothing(home: Path) -> None:
    daemon = start_daemon(home)
    _store_key(daemon)
    assert daemon.stop() == 0
    before = store.fingerprint(home)
    wrong = base64.b64encode(os.urandom(32)).decode()
    refused = _serve(home, env={"AUTHSOME_MASTER_KEY": wrong})
    assert refused.returncode != 0
    assert "master key" in (refused.stdout + refused.stderr).lower()
    assert wrong not in refused.stdout + refused.stderr
    assert store.fingerprint(home) == before
    # With the right key it still opens and the credential still works.
    again = start_daemon(home)
    listed = again.cli("connections", "list", "--json")
    assert [c["provider"] for c in listed.json] == ["openai"]
    again.stop()


def test_malformed_master_key_env_is_a_clear_error(home: Path) -> None:
    refused = _serve(home, env={"AUTHSOME_MASTER_KEY": "not base64!"})
    assert refused.returncode != 0
    assert "AUTHSOME_MASTER_KEY" in refused.stdout + refused.stderr


@pytest.mark.parametrize(("flag", "listener"), [("--port", "API"), ("--proxy-port", "proxy")])
def test_port_held_by_foreign_process_exits_9_naming_the_port(
    home: Path, flag: str, listener: str
) -> None:
    other = "--proxy-port" if flag == "--port" else "--port"
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        result = subprocess.run(
            [AUTHSOME, "daemon", "serve", flag, str(port), other, "0"],
            env=base_env(home),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 9
    assert f"port {port} on 127.0.0.1 ({listener})" in result.stderr
    assert "not Authsome" in result.stderr
    assert f"(try: authsome daemon start {flag} 0)" in result.stderr  # the option that frees it


def test_port_held_by_another_authsome_daemon_is_named_as_such(
    daemon: Daemon, tmp_path: Path
) -> None:
    port = str(daemon.record["api_port"])
    result = subprocess.run(
        [AUTHSOME, "daemon", "serve", "--port", port, "--proxy-port", "0"],
        env=base_env(tmp_path / "other"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 9
    assert "Authsome daemon" in result.stderr and port in result.stderr


def test_cli_refuses_a_daemon_of_another_home(daemon: Daemon, tmp_path: Path) -> None:
    other_home = tmp_path / "other-home"
    # Point the other home's record at the first daemon with a different deployment id.
    (other_home / "server").mkdir(parents=True)
    record = dict(daemon.record, deployment_id="0" * 32)
    (other_home / "server" / "daemon.json").write_text(json.dumps(record))
    result = run_cli(
        ["init", "--email", EMAIL, "--password-stdin"], base_env(other_home), input=PASSWORD + "\n"
    )
    assert result.code == 9
    assert "another Authsome home" in result.err
    assert not (other_home / "client" / "identities").exists()


def test_cli_autostarts_the_daemon_and_daemon_commands_work(tmp_path: Path) -> None:
    env, port = autostart_env(tmp_path / "auto")
    try:
        result = run_cli(
            ["init", "--email", EMAIL, "--password-stdin", "--json"], env, input=PASSWORD + "\n"
        )
        assert result.code == 0, result.err
        assert result.json["status"] == "active"
        status = run_cli(["daemon", "status", "--json"], env)
        assert status.code == 0 and status.json["running"] is True
        assert status.json["url"] == f"http://127.0.0.1:{port}"
    finally:
        stopped = run_cli(["daemon", "stop"], env)
    assert stopped.code == 0 and "stopped" in stopped.out
    assert run_cli(["daemon", "status"], env).code == 9


@pytest.mark.parametrize("flag", ["--host=0.0.0.0"])
def test_non_loopback_bind_needs_public_url(home: Path, flag: str) -> None:
    refused = _serve(home, flag)
    assert refused.returncode == 2
    assert "--public-url" in refused.stderr


@store.sqlite_only
def test_corrupt_database_is_reported_with_its_path(home: Path) -> None:
    (home / "server").mkdir(parents=True)
    database = home / "server" / "authsome.db"
    database.write_bytes(b"definitely not sqlite " * 500)
    refused = _serve(home)
    assert refused.returncode == 1
    assert str(database) in refused.stderr and "damaged" in refused.stderr
    assert database.read_bytes().startswith(b"definitely not sqlite")


def test_daemon_start_restart_stop_in_the_background(tmp_path: Path) -> None:
    env = base_env(tmp_path / "bg")
    started = run_cli(["daemon", "start", "--port", "0", "--proxy-port", "0", "--json"], env)
    try:
        assert started.code == 0, started.err
        first = started.json
        assert first["status"] == "started"
        again = run_cli(["daemon", "start", "--json"], env)
        assert again.json["status"] == "already running" and again.json["pid"] == first["pid"]
        restarted = run_cli(
            ["daemon", "restart", "--port", "0", "--proxy-port", "0", "--json"], env
        )
        assert restarted.code == 0, restarted.err
        assert restarted.json["pid"] != first["pid"]
        assert restarted.json["deployment_id"] == first["deployment_id"]
        log = (tmp_path / "bg" / "server" / "daemon.log").read_text()
        assert "serving API" in log
    finally:
        assert run_cli(["daemon", "stop"], env).code == 0
    assert not (tmp_path / "bg" / "server" / "daemon.json").exists()

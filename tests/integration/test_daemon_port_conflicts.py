"""A port held by a program that is not Authsome, met by a command that starts the daemon.

``daemon serve`` names the port itself (test_daemon_startup.py); here the
daemon is started in the background, by ``daemon start`` or by a command that
needs it, and the CLI that started it must relay which port is taken.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import base_env, run_cli


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port listened on by this test process (a program that is not Authsome)."""
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        yield foreign.getsockname()[1]


def _assert_names_the_port(code: int, err: str, port: int) -> None:
    assert code == 9, err
    assert f"port {port}" in err, err
    assert "not Authsome" in err, err


def test_daemon_start_names_the_port_a_foreign_program_holds(home: Path, held_port: int) -> None:
    result = run_cli(["daemon", "start", "--port", str(held_port)], base_env(home))
    _assert_names_the_port(result.code, result.err, held_port)
    assert not (home / "server" / "daemon.json").exists()


def test_autostart_names_the_port_a_foreign_program_holds(home: Path, held_port: int) -> None:
    env = base_env(home, AUTHSOME_BASE_URL=f"http://127.0.0.1:{held_port}")
    result = run_cli(["init", "--email", EMAIL, "--password-stdin"], env, input=PASSWORD + "\n")
    _assert_names_the_port(result.code, result.err, held_port)
    assert PASSWORD not in result.out + result.err


def test_daemon_start_json_failure_names_the_port(home: Path, held_port: int) -> None:
    result = run_cli(["daemon", "start", "--port", str(held_port), "--json"], base_env(home))
    assert result.code == 9
    assert result.json["error"] == "daemon_unavailable"
    assert f"port {held_port}" in result.json["message"]

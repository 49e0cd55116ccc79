"""`authsome init` that has to start the daemon shows the spinner, like other commands."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EMAIL, PASSWORD
from tests.support.cli import autostart_env
from tests.support.daemon import run_cli
from tests.support.tty import run_on_tty


def test_init_shows_a_spinner_while_it_starts_the_daemon(tmp_path: Path) -> None:
    env, port = autostart_env(tmp_path / "home")
    try:
        shown = run_on_tty(
            ["init", "--email", EMAIL, "--password-stdin"],
            env,
            stdin_tty=False,
            input=PASSWORD + "\n",
        )
        assert shown.code == 0, shown.tty
        assert f"waiting for the daemon to start at port {port} (Ctrl-C to cancel)" in shown.tty
        assert "claimed by admin@example.com" in shown.tty
    finally:
        run_cli(["daemon", "stop"], env)

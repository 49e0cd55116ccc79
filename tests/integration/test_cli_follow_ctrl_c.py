"""Ctrl-C ends `authsome log -f` / `--follow` as the normal way out: exit 0, stderr empty.

(`daemon logs -f` has the same test in test_cli_output.py.)
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.support.daemon import AUTHSOME, Daemon


@pytest.mark.parametrize(
    "args,first_line",
    [
        (("log", "-f"), "-- following new events"),
        (("log", "--follow", "--json"), '{"'),
    ],
    ids=["human", "json"],
)
def test_ctrl_c_ends_log_follow_with_exit_0(
    claimed: Daemon, args: tuple[str, ...], first_line: str
) -> None:
    process = subprocess.Popen(
        [AUTHSOME, *args, "-n", "1"],
        env=claimed.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    if args[1] == "-f":  # the newest event's row, then the banner
        lines.append(process.stdout.readline())
    assert lines[-1].startswith(first_line), lines
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=10)
    assert (process.returncode, err) == (0, "")

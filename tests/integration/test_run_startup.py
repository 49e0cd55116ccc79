"""`authsome run` starts its child quickly: no import it does not need.

Measured through the console script with Python's own import log
(PYTHONPROFILEIMPORTTIME), against a real daemon, so every import on the
way to the child and back counts. Issue 7 wants `authsome run -- true`
under 0.3 s; an import count resists machine load, a wall time does not.
"""

from __future__ import annotations

from tests.support.daemon import Daemon

#: What httpx's own command-line client pulls in (about 40 ms); `run` uses none of it.
UNUSED = {"rich", "pygments"}


def _imported(daemon: Daemon, *args: str) -> set[str]:
    result = daemon.cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.code == 0, result.err
    rows = [line.split("|") for line in result.err.splitlines() if line.startswith("import time:")]
    modules = {row[-1].strip() for row in rows if len(row) == 3}
    assert "authsome.cli.main" in modules  # the log is there and names our modules
    return modules


def test_run_true_imports_neither_the_httpx_command_line_nor_rich(claimed: Daemon) -> None:
    modules = _imported(claimed, "run", "--", "true")
    assert "authsome.client.api" in modules and "httpx" in modules  # it did talk to the daemon
    assert {name.split(".")[0] for name in modules} & UNUSED == set()

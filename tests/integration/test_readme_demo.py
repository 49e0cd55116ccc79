"""The README's two commands: the demo runs and passes, and CI runs the test command.

The demo is run the way the README says (``bash examples/demo`` from a folder
holding ``examples/``, with the installed ``authsome`` first on PATH), except
that the package is the one this test run already installed: no venv, no pip,
no network. The demo makes its own temp home and picks free ports.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import store
from tests.support.daemon import processes_with_home_under, stop_processes

REPO = Path(__file__).resolve().parents[2]
DEMO_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -q . && PATH="$PWD/.venv/bin:$PATH" '
    "bash examples/demo"
)
TEST_COMMAND = "./scripts/test"
DEMO_TIMEOUT = 180


def _bash_blocks(markdown: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```bash\n(.*?)^```", markdown, re.M | re.S)]


def _commands(script: str) -> list[str]:
    """The lines of a shell script that do something (no blanks, no comments)."""
    lines = (line.strip() for line in script.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_readme_names_the_demo_and_the_test_command_and_ci_runs_it() -> None:
    blocks = _bash_blocks((REPO / "README.md").read_text())
    assert blocks[:2] == [DEMO_COMMAND, TEST_COMMAND]
    assert _commands((REPO / ".ci" / "run").read_text())[-1] == TEST_COMMAND
    for script in (REPO / "scripts" / "test", REPO / ".ci" / "run"):
        assert os.access(script, os.X_OK), f"{script} is not executable"


def _demo_env(tmp_path: Path) -> dict[str, str]:
    """This test run's environment with its venv first on PATH, as the README's
    ``PATH="$PWD/.venv/bin:$PATH"`` does; temp files (the demo's home) under tmp_path."""
    venv_bin = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.pop("PYTHON", None)  # the demo's own default: python3 from PATH
    env.update(
        PATH=os.pathsep.join([venv_bin, env.get("PATH", "")]),
        TMPDIR=str(tmp_path),
        NO_COLOR="1",
    )
    return env


@store.sqlite_only  # the demo runs on the embedded SQLite store whatever the suite's store
def test_demo_passes_and_the_agent_never_holds_the_key(tmp_path: Path) -> None:
    workdir = tmp_path / "checkout"
    shutil.copytree(REPO / "examples", workdir / "examples")
    demo = subprocess.Popen(
        ["bash", "examples/demo"],
        cwd=workdir,
        env=_demo_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = demo.communicate(timeout=DEMO_TIMEOUT)
    except subprocess.TimeoutExpired:
        demo.send_signal(signal.SIGTERM)  # the demo's trap stops its daemon and upstream
        output, _ = demo.communicate(timeout=30)
        raise AssertionError(f"the demo took over {DEMO_TIMEOUT} s:\n{output}") from None
    finally:
        left = processes_with_home_under(tmp_path)
        stop_processes(left)
    assert demo.returncode == 0, output
    assert left == [], "the demo left its daemon running"
    assert re.search(
        r"^  ok   the upstream received the key: Authorization: Bearer demo…", output, re.M
    )
    assert re.search(
        r"^  ok   agent's environment \(\d+ variables\): DEMO_API_KEY=authsome-managed, key absent$",
        output,
        re.M,
    ), output
    assert "agent: DEMO_API_KEY in my environment = 'authsome-managed'" in output
    assert "agent: the upstream received Authorization: Bearer demo…" in output
    assert "ok   database: the key is not stored in plaintext" in output
    assert output.rstrip().endswith(
        "demo passed: the upstream received the key; the agent never held it"
    )
    assert list(tmp_path.glob("authsome-demo.*")) == []  # its temp folder is gone

"""Without node (or `npm ci`) the OAuth suite is skipped with the reason, and fails under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
A_TEST = "tests/integration/oauth/test_dcr_login.py"


def _run_without_node(*, ci: bool) -> subprocess.CompletedProcess[str]:
    """This suite's DCR test in a nested pytest whose PATH finds no ``node``."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no node there
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsf", A_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [False, True], ids=["local", "ci"])
def test_missing_node_skips_locally_and_fails_under_ci(ci: bool) -> None:
    done = _run_without_node(ci=ci)
    report = done.stdout + done.stderr
    assert "needs node and `npm ci`" in report, report
    if ci:
        assert done.returncode == 1, report
        assert "1 error" in report and "CI is set" in report  # at setup
    else:
        assert done.returncode == 0, report
        assert "1 skipped" in report

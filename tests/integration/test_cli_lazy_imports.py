"""`authsome --help` and `--version` import no heavy library (start-up stays fast).

Measured through the console script with Python's own import log
(PYTHONPROFILEIMPORTTIME), so every import on the way counts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import AUTHSOME, base_env

HEAVY = {"httpx", "rich", "pydantic", "pydantic_core", "sqlalchemy", "cryptography", "fastapi"}


def _imported(args: list[str], home: Path) -> set[str]:
    done = subprocess.run(
        [AUTHSOME, *args],
        env=base_env(home) | {"PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    modules = {row[-1].strip() for row in rows if len(row) == 3}
    assert "authsome.cli.main" in modules  # the log is there and names our own modules
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--help"], ["--version"]], ids=" ".join)
def test_start_up_imports_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    assert _imported(args, tmp_path / "home") & HEAVY == set()

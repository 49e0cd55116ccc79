"""bench/main_path.py still runs and prints every figure issue 7 names.

The benchmark asserts nothing about speed (figures are read by people, in
bench/README.md); this only keeps the script from breaking unnoticed. Its
``--quick`` mode sets everything up as a full run does (stand-in upstream,
daemon, identity, provider, key) with few requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import store

REPO = Path(__file__).resolve().parents[2]
#: One line per figure the issue asks for, as the script prints it.
FIGURES = (
    "  direct   p50/p99 ms/req/s:",
    "  proxied  p50/p99 ms/req/s:",
    "  daemon CPU per proxied request:",
    "first request of a fresh run",
    "server-sent events, upstream write to client read",
    "32 concurrent keep-alive clients",
    "PoP-signed GET /whoami p50",
    "authsome run -- true: median",
    "daemon start to /health: new home",
    "targets (issue 7):",
)


@pytest.mark.slow
@store.sqlite_only
def test_main_path_bench_quick_prints_every_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "main_path.py"), "--quick"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for figure in FIGURES:
        assert figure in result.stdout, f"missing {figure!r} in:\n{result.stdout}"
    targets = result.stdout.split("targets (issue 7):", 1)[1].strip().splitlines()
    assert len(targets) >= 11
    assert all(line.lstrip().startswith(("ok ", "MISS ")) for line in targets)

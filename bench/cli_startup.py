"""How long `authsome --version` and `authsome --help` take to start, end to end.

    python bench/cli_startup.py            # median of 20 runs each
    python bench/cli_startup.py --runs 50

Runs the installed console script (what a user types) in a temporary
AUTHSOME_HOME, after two warm-up runs, and prints the median and the spread
of the wall time, next to two baselines (a bare interpreter, and one that
only imports click) that show how busy the machine is. It asserts nothing;
the target is under 150 ms. With --imports it also lists the slowest imports
of one `--help` (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 150.0
COMMANDS = (["--version"], ["--help"], ["whoami", "--help"])
#: What no CLI on this interpreter can beat: the interpreter, then click.
BASELINES = (
    ("python -c pass", [sys.executable, "-c", "pass"]),
    ("python -c 'import click'", [sys.executable, "-c", "import click"]),
)


def _console_script() -> str:
    found = shutil.which("authsome") or str(Path(sys.executable).with_name("authsome"))
    if not Path(found).exists():
        raise SystemExit("no `authsome` console script found: run `pip install -e .` first")
    return found


def time_runs(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    for _ in range(2):
        subprocess.run(argv, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def slowest_imports(script: str, env: dict[str, str], count: int = 12) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", script, "--help"],
        env=env,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = (part.strip() for part in line[12:].split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    return [f"{us / 1000:7.1f} ms  {name}" for us, name in sorted(rows, reverse=True)[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--imports", action="store_true", help="Also list the slowest imports.")
    args = parser.parse_args()
    script = _console_script()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTHSOME_HOME": home, "NO_COLOR": "1"}
        python = sys.version.split()[0]
        print(f"{script}, {args.runs} runs each, {os.cpu_count()} CPUs, Python {python}")
        for label, argv in BASELINES:
            times = time_runs(argv, args.runs, env)
            print(f"{label:<24} median {statistics.median(times):6.1f} ms  (baseline)")
        for command in COMMANDS:
            times = time_runs([script, *command], args.runs, env)
            median = statistics.median(times)
            verdict = "ok" if median < TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
            print(
                f"authsome {' '.join(command):<15} median {median:6.1f} ms "
                f"(min {min(times):.1f}, max {max(times):.1f})  {verdict}"
            )
        if args.imports:
            print("slowest imports of `authsome --help` (cumulative):")
            print("\n".join(slowest_imports(script, env)))


if __name__ == "__main__":
    main()

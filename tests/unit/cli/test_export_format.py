"""Export formats: what bash, JSON and dotenv readers get back is exactly the key."""

from __future__ import annotations

import json
import subprocess

import pytest

from authsome.cli.envscan import parse_assignments
from authsome.cli.export_cmd import format_dotenv, format_env, format_json

AWKWARD = [
    "plain-key",
    "with space",
    "it's",
    'say "hi"',
    "$HOME and ${PATH} and $(id) and `id`",
    "back\\slash",
    "line one\nline two\n",
    "tab\tand\rcarriage",
    "",
    "ünïcödé",
]


def _bash_reads(script: str, names: list[str]) -> list[str]:
    printer = "; ".join(f'printf "%s\\0" "${name}"' for name in names)
    done = subprocess.run(
        ["bash", "-c", f'eval "$1"; {printer}', "bash", script],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    return done.stdout.decode().split("\0")[:-1]


def test_env_format_round_trips_through_bash_eval() -> None:
    variables = {f"KEY_{i}": value for i, value in enumerate(AWKWARD)}
    assert _bash_reads(format_env(variables), list(variables)) == AWKWARD


@pytest.mark.parametrize("value", AWKWARD)
def test_dotenv_quoting(value: str) -> None:
    line = format_dotenv({"K": value})
    assert line.endswith("\n") and line.count("\n") == 1  # one line, whatever the value
    quote = '"' if "'" in value or "\n" in value or "\r" in value else "'"
    assert line.startswith(f"K={quote}")
    # Read back with the dotenv reader `authsome scan` uses.
    assert list(parse_assignments(line)) == [(1, "K", value)]


def test_json_format() -> None:
    variables = {f"K{i}": value for i, value in enumerate(AWKWARD)}
    assert json.loads(format_json(variables)) == variables

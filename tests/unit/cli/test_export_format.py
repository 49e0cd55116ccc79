"""Export formats: what bash, JSON and dotenv readers get back is exactly the key."""

from __future__ import annotations

import io
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
    "it's $(id) and `id` and ${HOME}",
    "back\\slash",
    "two \\\\ backslashes",
    "trailing backslash\\",
    "line one\nline two\n",
    "tab\tand\rcarriage",
    "",
    "ünïcödé",
]


def _bash_reads(script: str, names: list[str], *, source: bool = False) -> list[str]:
    """What bash gets: ``eval`` of ``script``, or ``set -a; . FILE`` when ``source``."""
    printer = "; ".join(f'printf "%s\\0" "${name}"' for name in names)
    load = "set -a; . /dev/stdin; set +a" if source else 'eval "$1"'
    done = subprocess.run(
        ["bash", "-c", f"{load}; {printer}", "bash", script],
        input=script.encode() if source else None,
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    return done.stdout.decode().split("\0")[:-1]


def test_env_format_round_trips_through_bash_eval() -> None:
    variables = {f"KEY_{i}": value for i, value in enumerate(AWKWARD)}
    assert _bash_reads(format_env(variables), list(variables)) == AWKWARD


def test_dotenv_format_round_trips_when_sourced_by_bash() -> None:
    variables = {f"KEY_{i}": value for i, value in enumerate(AWKWARD)}
    assert _bash_reads(format_dotenv(variables), list(variables), source=True) == AWKWARD


def _python_dotenv_exact(value: str) -> bool:
    """The documented exception: double-quoted values with ``$`` or a backtick."""
    double_quoted = "'" in value or "\\\\" in value or value.endswith("\\")
    return not (double_quoted and ("$" in value or "`" in value))


@pytest.mark.parametrize("value", AWKWARD)
def test_dotenv_readers_get_the_value_back(value: str) -> None:
    text = format_dotenv({"K": value})
    assert text.count("\n") == value.count("\n") + 1  # one assignment, newlines inside quotes
    # The dotenv reader `authsome scan` uses.
    assert list(parse_assignments(text)) == [(1, "K", value)]
    dotenv = pytest.importorskip("dotenv")
    read = dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False)
    if _python_dotenv_exact(value):
        assert read == {"K": value}
    else:
        assert read["K"] == value.replace("$", "\\$").replace("`", "\\`")


def test_dotenv_parse_keeps_later_assignments_after_a_multi_line_value() -> None:
    text = format_dotenv({"A": "one\ntwo", "B": "it's\nthree", "C": "plain"})
    assert [(line, name) for line, name, _ in parse_assignments(text)] == [
        (1, "A"),
        (3, "B"),
        (5, "C"),
    ]
    unclosed = "A='never closed\nB=after\n"
    assert list(parse_assignments(unclosed)) == [(2, "B", "after")]


def test_json_format() -> None:
    variables = {f"K{i}": value for i, value in enumerate(AWKWARD)}
    assert json.loads(format_json(variables)) == variables

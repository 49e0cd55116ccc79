"""`authsome export --format env|dotenv` through the console script, then sourced by bash.

Keys carry command substitutions, backticks, ``${HOME}``, both quotes and runs of
spaces: `set -a; . FILE` must give back exactly the stored bytes and run nothing.
(The daemon refuses API keys with a newline; the formatters' unit tests cover those.)
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import PASSWORD, api_key_provider, register_provider, start_claimed
from tests.support.daemon import Daemon


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a command that escaped its quotes would leave a file."""
    return tmp_path_factory.mktemp("marks")


def _keys(marks: Path) -> dict[str, str]:
    run, tick = f"$(touch {marks}/dollar)", f"`touch {marks}/tick`"
    return {
        # a single quote: double-quoted in a dotenv file
        "QUOTED_API_KEY": f'it\'s {run} {tick} ${{HOME}} $HOME "dq"  two  spaces;&|',
        # doubled and trailing backslashes: double-quoted too
        "SLASHY_API_KEY": f"a\\\\b {run} {tick} ${{HOME}}\\",
        # no single quote: literal between single quotes
        "PLAIN_API_KEY": f'{run} {tick} ${{HOME}} "dq" back\\slash  end',
    }


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory, marks: Path) -> Iterator[Daemon]:
    daemon = start_claimed(tmp_path_factory.mktemp("export-shell") / "home")
    try:
        for variable, key in _keys(marks).items():
            name = variable.split("_")[0].lower()
            register_provider(daemon, api_key_provider(name, f"api.{name}.test", variable))
            result = daemon.cli("login", name, "--key-stdin", input=key + "\n")
            assert result.code == 0, result.err
        yield daemon
    finally:
        daemon.stop()


def _source(path: Path, names: list[str], cwd: Path) -> list[str]:
    printer = "; ".join(f'printf "%s\\0" "${name}"' for name in names)
    done = subprocess.run(
        ["bash", "-c", f'set -a; . "$1"; set +a; {printer}', "bash", str(path)],
        capture_output=True,
        check=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": "/home/not-expanded"},
    )
    assert done.stderr == b""
    return done.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("fmt", ["env", "dotenv"])
def test_export_file_sourced_by_bash_gives_the_exact_keys(
    vault: Daemon, marks: Path, tmp_path: Path, fmt: str
) -> None:
    keys = _keys(marks)
    target = tmp_path / f"creds.{fmt}"
    written = vault.cli(
        "export", "--format", fmt, "-o", str(target), "--password-stdin", input=PASSWORD + "\n"
    )
    assert written.code == 0, written.err
    assert written.out == ""
    assert target.stat().st_mode & 0o777 == 0o600
    assert _source(target, list(keys), tmp_path) == list(keys.values())
    piped = vault.cli("export", "--format", fmt, "--password-stdin", input=PASSWORD + "\n")
    assert piped.code == 0 and piped.out == target.read_text()
    assert sorted(path.name for path in marks.iterdir()) == []  # nothing ran

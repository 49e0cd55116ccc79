"""`authsome doctor` failing the checks for a daemon of another version and for a stored
provider definition that no longer parses, each with its fix, exit 1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authsome import __version__
from tests.support import store
from tests.support.cli import api_key_provider, register_provider
from tests.support.daemon import Daemon, base_env, run_cli

OLD_VERSION = "0.0.1-old"
SERVE = ("daemon", "serve", "--port", "0", "--proxy-port", "0")
# The real daemon, reporting another version: what an older install still running looks like.
AS_OLD_VERSION = (
    "import sys, authsome; authsome.__version__ = sys.argv.pop(1); "
    "from authsome.cli.main import main; main()"
)


def _checks(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {check["name"]: check for check in body["checks"]}  # type: ignore[attr-defined, index]


@pytest.fixture
def old_daemon(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    log = (tmp_path / "old-daemon.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-c", AS_OLD_VERSION, OLD_VERSION, *SERVE],
        env=base_env(home),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        record = home / "server" / "daemon.json"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "daemon did not start"
            try:
                found = json.loads(record.read_text())
                if found.get("pid") == process.pid:
                    httpx.get(found["url"] + "/health", timeout=1).raise_for_status()
                    break
            except (OSError, ValueError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        yield home
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_a_daemon_of_another_version_fails_with_the_fix(old_daemon: Path) -> None:
    env = base_env(old_daemon)
    human = run_cli(["doctor"], env)
    assert human.code == 1
    expected = f"✖ version: daemon runs {OLD_VERSION}, this CLI is {__version__}\n"
    assert expected + "    fix: authsome daemon restart\n" in human.out, human.out
    as_json = run_cli(["doctor", "--json"], env)
    assert as_json.code == 1 and as_json.json["ok"] is False
    version = _checks(as_json.json)["version"]
    assert version["ok"] is False and version["fix"] == "authsome daemon restart"
    assert _checks(as_json.json)["daemon"]["ok"] is True  # it answers; only the version differs


def test_a_stored_provider_that_no_longer_parses_fails_with_the_fix(claimed: Daemon) -> None:
    register_provider(claimed, api_key_provider("plainco", "api.plainco.test"))
    assert claimed.cli("doctor").code == 0
    # A definition changed behind the daemon's back (a hand edit, a bad restore).
    store.execute(
        claimed.home,
        "UPDATE custom_providers SET definition = ? WHERE name = ?",
        json.dumps({"schema_version": 1, "name": "plainco", "auth_type": "api_key"}),
        "plainco",
    )
    human = claimed.cli("doctor")
    assert human.code == 1, human.out
    line = next(row for row in human.out.splitlines() if row.startswith("✖ providers: "))
    assert "plainco" in line, line
    assert "    fix: authsome provider register FILE --force with a fixed file" in human.out
    assert "✔ vault:" in human.out  # the rest still runs
    as_json = claimed.cli("doctor", "--json")
    assert as_json.code == 1
    failed = [name for name, check in _checks(as_json.json).items() if not check["ok"]]
    assert failed == ["providers"]

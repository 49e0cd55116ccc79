"""A real daemon process on free loopback ports, with its own AUTHSOME_HOME."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import forked, postgres

AUTHSOME = shutil.which("authsome") or str(Path(sys.executable).with_name("authsome"))


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no proxies, no inherited AUTHSOME_* settings.

    Under ``--store=postgres`` it names the home's own database on the test
    server, so every daemon of that home (started here or by the CLI) uses it.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUTHSOME_") and "proxy" not in key.lower()
    }
    env.update(AUTHSOME_HOME=str(home), NO_COLOR="1")
    if postgres.use_postgres():
        env["AUTHSOME_DATABASE_URL"] = postgres.shared_server().database_for(str(home))
    env.update(extra)
    return env


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Daemon:
    home: Path
    env: dict[str, str]
    process: forked.Process
    log_path: Path
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.record["url"])

    @property
    def proxy_port(self) -> int:
        return int(self.record["proxy_port"])

    def cli(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> CliResult:
        return run_cli(args, self.env | (env or {}), input=input, timeout=timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def run_cli(
    args: Sequence[str], env: dict[str, str], *, input: str | None = None, timeout: float = 60
) -> CliResult:
    return CliResult(*forked.run([AUTHSOME, *args], env, input=input, timeout=timeout))


def start_daemon(
    home: Path, *extra_args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> Daemon:
    """``authsome daemon serve --port 0 --proxy-port 0`` and wait for /health."""
    environment = base_env(home) | (env or {})
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"{home.name}-daemon.log"
    with open(log_path, "ab") as log, open(os.devnull, "rb") as nothing:
        process = forked.start(
            [AUTHSOME, "daemon", "serve", "--port", "0", "--proxy-port", "0", *extra_args],
            environment,
            stdin=nothing.fileno(),
            stdout=log.fileno(),
            stderr=log.fileno(),
        )
    daemon = Daemon(home, environment, process, log_path)
    record_path = home / "server" / "daemon.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daemon exited with {process.returncode}:\n{daemon.log_text()}")
        try:
            record = json.loads(record_path.read_text())
            if record.get("pid") == process.pid:
                httpx.get(record["url"] + "/health", timeout=1).raise_for_status()
                daemon.record = record
                return daemon
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    daemon.stop()
    raise RuntimeError(f"daemon did not become healthy:\n{daemon.log_text()}")


def processes_with_home_under(root: Path) -> list[int]:
    """Pids of processes whose ``AUTHSOME_HOME`` lies under ``root`` (Linux /proc)."""
    prefix = str(root.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for item in environ:
            if item.startswith(b"AUTHSOME_HOME="):
                if os.fsdecode(item[len(b"AUTHSOME_HOME=") :]).startswith(prefix):
                    found.append(int(entry.name))
                break
    return found


def stop_processes(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``grace`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.05)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True

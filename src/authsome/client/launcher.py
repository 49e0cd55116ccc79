"""Starting and stopping this home's daemon as a background process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from authsome.client.settings import DaemonRecord
from authsome.errors import DaemonUnavailable
from authsome.home import DEFAULT_API_PORT, DEFAULT_PROXY_PORT, HomeLayout

START_TIMEOUT = 15.0


#: Shows what is awaited while the block runs (the CLI passes its spinner).
WaitNotice = Callable[[str], AbstractContextManager[None]]


def start_background(
    layout: HomeLayout,
    *,
    port: int,
    proxy_port: int | None = None,
    extra_args: list[str] | None = None,
    on_wait: WaitNotice | None = None,
) -> DaemonRecord:
    """Spawn ``authsome daemon serve`` detached; wait until its record answers.

    Interrupting the wait (Ctrl-C) stops the half-started daemon.
    """
    layout.ensure_private_dir(layout.server_dir)
    if proxy_port is None:
        proxy_port = DEFAULT_PROXY_PORT if port == DEFAULT_API_PORT else 0
    previous = DaemonRecord.read(layout)
    args = [sys.executable, "-m", "authsome", "daemon", "serve", "--port", str(port)]
    args += ["--proxy-port", str(proxy_port), *(extra_args or [])]
    env = {**os.environ, "AUTHSOME_HOME": str(layout.root)}
    with open(layout.daemon_log, "ab") as log_file:
        os.chmod(layout.daemon_log, 0o600)
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=env,
            start_new_session=True,
        )
    notice = on_wait or (lambda _what: contextlib.nullcontext())
    try:
        with notice(f"waiting for the daemon to start at port {port or 'any'}"):
            return _wait_for_start(layout, process, previous)
    except BaseException:
        if process.poll() is None:
            process.terminate()
        raise


def _wait_for_start(
    layout: HomeLayout, process: subprocess.Popen[bytes], previous: DaemonRecord | None
) -> DaemonRecord:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise DaemonUnavailable(
                f"the daemon exited during start (code {code})",
                hint=f"see {layout.daemon_log}",
            )
        record = DaemonRecord.read(layout)
        is_new = record is not None and record != previous and record.pid == process.pid
        if is_new and record is not None and daemon_answers(record.url, record.deployment_id):
            return record
        time.sleep(0.02)
    raise DaemonUnavailable("the daemon did not start in time", hint=f"see {layout.daemon_log}")


def daemon_answers(url: str, deployment_id: str) -> bool:
    try:
        answer = httpx.get(f"{url}/health", timeout=1.0).json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("deployment_id") == deployment_id


def stop_background(layout: HomeLayout, *, timeout: float = 10.0) -> int | None:
    """SIGTERM this home's daemon and wait for it; returns its pid, or None."""
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        layout.pid_file.unlink(missing_ok=True)
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return pid

"""Starting and stopping this home's daemon as a background process."""

from __future__ import annotations

import contextlib
import os
import re
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
    log_offset = _log_size(layout)
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
            return _wait_for_start(layout, process, previous, log_offset)
    except BaseException:
        if process.poll() is None:
            process.terminate()
        raise


def _wait_for_start(
    layout: HomeLayout,
    process: subprocess.Popen[bytes],
    previous: DaemonRecord | None,
    log_offset: int,
) -> DaemonRecord:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            reason, fix = start_error(layout, log_offset)
            raise DaemonUnavailable(
                f"the daemon exited during start (code {code})" + (f": {reason}" if reason else ""),
                hint=fix or f"see {layout.daemon_log}",
            )
        record = DaemonRecord.read(layout)
        is_new = record is not None and record != previous and record.pid == process.pid
        if is_new and record is not None and daemon_answers(record.url, record.deployment_id):
            return record
        time.sleep(0.02)
    raise DaemonUnavailable("the daemon did not start in time", hint=f"see {layout.daemon_log}")


def _log_size(layout: HomeLayout) -> int:
    try:
        return layout.daemon_log.stat().st_size
    except OSError:
        return 0


#: Colour codes, in case the daemon's stderr was styled (FORCE_COLOR and the like).
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_PREFIX = "error: "
_FIX = re.compile(r"^(?P<reason>.*?) \(try: (?P<fix>.*)\)$")


def start_error(layout: HomeLayout, log_offset: int) -> tuple[str | None, str | None]:
    """Why the daemon just refused to start and the fix it suggested, if any.

    Read from what the daemon wrote to its log after ``log_offset``.

    Only the CLI's own one-line rendering of an ``AuthsomeError`` is relayed
    (``error: <message>``): those messages never hold secrets by design
    (unexpected failures name only their type), while anything else in the
    log, such as a traceback under ``AUTHSOME_DEBUG``, is never repeated.
    """
    try:
        with open(layout.daemon_log, "rb") as log_file:
            log_file.seek(log_offset)
            text = log_file.read().decode(errors="replace")
    except OSError:
        return None, None
    reasons = [
        line.removeprefix(_ERROR_PREFIX).strip()
        for line in (_ANSI.sub("", raw) for raw in text.splitlines())
        if line.startswith(_ERROR_PREFIX)
    ]
    if not reasons:
        return None, None
    split = _FIX.match(reasons[-1])
    if split is None:
        return reasons[-1], None
    return split["reason"], split["fix"]


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

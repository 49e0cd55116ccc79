"""Running the CLI with a pseudo-terminal on some of its standard streams."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass

from tests.support.daemon import AUTHSOME


@dataclass
class TtyResult:
    code: int
    tty: str  # everything written to the terminal
    out: str  # stdout when it was not the terminal


def run_on_tty(
    args: list[str],
    env: dict[str, str],
    *,
    stdout_tty: bool = True,
    stdin_tty: bool = True,
    input: str | None = None,
    after: str = ":",
    timeout: float = 30,
) -> TtyResult:
    """Run ``authsome ARGS``; stderr always on the terminal, stdin/stdout as asked.

    ``input`` is piped, or typed at the terminal once it shows ``after`` (a
    prompt; typing earlier would be discarded when the prompt hides input).
    """
    main, child = pty.openpty()
    process = subprocess.Popen(
        [AUTHSOME, *args],
        stdin=child if stdin_tty else subprocess.PIPE,
        stdout=child if stdout_tty else subprocess.PIPE,
        stderr=child,
        env=env | {"TERM": "xterm-256color", "COLUMNS": "120"},
        close_fds=True,
    )
    os.close(child)
    to_type = input if stdin_tty else None
    if input is not None and not stdin_tty:
        assert process.stdin is not None
        process.stdin.write(input.encode())
        process.stdin.close()
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            chunks.append(data)
            if to_type is not None and after.encode() in b"".join(chunks):
                time.sleep(0.2)  # the prompt is written before echo is switched off
                os.write(main, to_type.encode())
                to_type = None
        elif process.poll() is not None:
            break
    os.close(main)
    out = process.stdout.read().decode() if process.stdout else ""
    code = process.wait(timeout=5)
    return TtyResult(code, b"".join(chunks).decode(errors="replace"), out)

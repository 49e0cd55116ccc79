"""An ``authsome`` command running on a pseudo-terminal, read as it writes.

``run_on_tty`` (``tty.py``) runs a command to its end; this one keeps it
running so a test can wait for a prompt or a spinner and then interrupt it
(Ctrl-C is a SIGINT to the process: the pty is not its controlling terminal).
"""

from __future__ import annotations

import os
import pty
import re
import signal
import threading
import time
from types import TracebackType

from tests.support import forked
from tests.support.daemon import AUTHSOME


class TtyProcess:
    """``authsome ARGS`` with stdin, stdout and stderr on one pseudo-terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self._main, child = pty.openpty()
        try:
            self.process = forked.start(
                [AUTHSOME, *args],
                env | {"TERM": "xterm-256color", "COLUMNS": "120"},
                stdin=child,
                stdout=child,
                stderr=child,
            )
        finally:
            os.close(child)
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> TtyProcess:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        """A test that failed half-way leaves no command running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._main, 65536)
            except OSError:  # EIO: every child side of the pty is closed
                break
            if not data:
                break
            with self._lock:
                self._chunks.append(data)
        os.close(self._main)

    @property
    def tty(self) -> str:
        """Everything written to the terminal so far (escape sequences included)."""
        with self._lock:
            return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.tty)
            if found:
                return found
            if not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not shown; the terminal: {self.tty!r}")

    def answer(self, prompt: str, text: str) -> None:
        """Type ``text`` at the terminal once it shows ``prompt``."""
        self.wait_for(re.escape(prompt))
        time.sleep(0.2)  # the prompt is written before echo is switched off
        os.write(self._main, text.encode())

    def interrupt(self) -> None:
        """What Ctrl-C at the terminal does to the command."""
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30) -> int:
        """The exit code, once the command ended and its output was read."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

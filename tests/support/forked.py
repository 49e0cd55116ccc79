"""Starting the tests' ``authsome`` processes: forked from a pre-imported
server (``zygote.py``) when that yields the process ``exec`` would, a real
``exec`` otherwise.

A fork cannot change how the interpreter started, so a command whose
environment sets other ``PYTHON*`` variables (a ``sitecustomize`` on
``PYTHONPATH``, the import log, a keyring backend) or another locale than
the server's is exec'd, as is everything when ``AUTHSOME_TEST_FORK=0``.
Tests about the console script's own start (its imports, its start-up time)
call ``subprocess`` themselves.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

FORK_ENV = "AUTHSOME_TEST_FORK"
ZYGOTE_SCRIPT = str(Path(__file__).with_name("zygote.py"))
#: The server's environment: this process's as it was before any test could
#: change it (a test's ``monkeypatch.setenv`` must not shape every later child).
_START_ENV = {key: value for key, value in os.environ.items() if not key.startswith("AUTHSOME_")}


def _interpreter_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that shape an interpreter's start-up (imports, paths, I/O)."""
    return {
        key: value
        for key, value in env.items()
        if key.startswith(("PYTHON", "LC_")) or key in ("LANG", "LANGUAGE")
    }


class ForkedProcess:
    """``subprocess.Popen``'s process interface for a child of the zygote."""

    def __init__(
        self, connection: socket.socket, pid: int, args: Sequence[str], received: bytes = b""
    ) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self._connection = connection
        self._buffer = received  # what the server sent after the pid

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read_status(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._read_status(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read_status(self, timeout: float | None) -> None:
        line, self._buffer = _read_line(self._connection, self._buffer, timeout)
        if line is not None:
            self.returncode = int(line)
            self._connection.close()


def _read_line(
    connection: socket.socket, received: bytes, timeout: float | None
) -> tuple[bytes | None, bytes]:
    """The next line the zygote sends (``None`` if none came within ``timeout``),
    and what it sent after that line; ``received`` is what was read before."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while b"\n" not in received:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        connection.settimeout(left)
        try:
            data = connection.recv(64)
        except (TimeoutError, BlockingIOError):
            return None, received
        if not data:
            raise RuntimeError("the test zygote closed the connection")
        received += data
    line, _, rest = received.partition(b"\n")
    return line, rest


Process = subprocess.Popen[bytes] | ForkedProcess


class Zygote:
    """One pre-imported Authsome per test process, started on first use."""

    def __init__(self, authsome: str) -> None:
        self._folder = tempfile.mkdtemp(prefix="authsome-zygote.")
        self._socket = os.path.join(self._folder, "socket")
        env = dict(_START_ENV)
        self.interpreter = _interpreter_env(env)
        with open(os.path.join(self._folder, "zygote.log"), "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, ZYGOTE_SCRIPT, self._socket, authsome],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        if self._process.stdout.readline() != b"ready\n":
            self._process.wait(timeout=10)
            log_text = Path(self._folder, "zygote.log").read_text(errors="replace")
            raise RuntimeError(f"the test zygote did not start:\n{log_text}")

    def fork(
        self, argv: Sequence[str], env: Mapping[str, str], fds: tuple[int, int, int], cwd: str
    ) -> ForkedProcess:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self._socket)
        request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": cwd}) + "\n"
        socket.send_fds(connection, [request.encode()], list(fds))
        pid, rest = _read_line(connection, b"", None)
        assert pid is not None  # no timeout: a line, or an error
        # A quick child's exit status may already follow its pid.
        return ForkedProcess(connection, int(pid), argv, rest)

    def stop(self) -> None:
        """Stop the server, and with it every child still running."""
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        shutil.rmtree(self._folder, ignore_errors=True)


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def _zygote_for(argv: Sequence[str], env: Mapping[str, str]) -> Zygote | None:
    global _zygote
    if os.environ.get(FORK_ENV) == "0":
        return None
    with _zygote_lock:
        if _zygote is None:
            _zygote = Zygote(argv[0])
            atexit.register(stop_zygote)
    return _zygote if _interpreter_env(env) == _zygote.interpreter else None


def stop_zygote() -> None:
    global _zygote
    with _zygote_lock:
        zygote, _zygote = _zygote, None
    if zygote is not None:
        zygote.stop()


def start(
    argv: Sequence[str], env: Mapping[str, str], *, stdin: int, stdout: int, stderr: int
) -> Process:
    """``subprocess.Popen(argv, env=env, ...)`` for the console script ``argv[0]``,
    its standard streams given as file descriptors."""
    zygote = _zygote_for(argv, env)
    if zygote is None:
        return subprocess.Popen(
            list(argv), env=dict(env), stdin=stdin, stdout=stdout, stderr=stderr
        )
    return zygote.fork(argv, env, (stdin, stdout, stderr), os.getcwd())


def start_piped(
    argv: Sequence[str], env: Mapping[str, str], *, stdin: bool = True
) -> tuple[Process, int | None, int, int]:
    """``start`` with new pipes for the child's streams (stdin from /dev/null unless
    ``stdin``): the process, then this side's ends: stdin's write end (or None),
    stdout's and stderr's read ends."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    if stdin:
        in_read, in_write = os.pipe()
    else:
        in_read, in_write = os.open(os.devnull, os.O_RDONLY), None
    try:
        process = start(argv, env, stdin=in_read, stdout=out_write, stderr=err_write)
    finally:
        for fd in (in_read, out_write, err_write):
            os.close(fd)
    return process, in_write, out_read, err_read


def run(
    argv: Sequence[str], env: Mapping[str, str], *, input: str | None, timeout: float
) -> tuple[int, str, str]:
    """``subprocess.run(argv, env=env, input=input, capture_output=True, text=True,
    timeout=timeout)``: exit code, stdout, stderr."""
    zygote = _zygote_for(argv, env)
    if zygote is None:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return done.returncode, done.stdout, done.stderr
    deadline = time.monotonic() + timeout
    process, in_write, out_read, err_read = start_piped(argv, env, stdin=input is not None)
    out, err = _communicate(in_write, input, out_read, err_read, deadline)
    try:
        code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
    return code, _text(out), _text(err)


def _communicate(
    in_write: int | None, input: str | None, out_read: int, err_read: int, deadline: float
) -> tuple[bytes, bytes]:
    """Feed stdin and read both outputs to their end, or until ``deadline``."""
    pending = (input or "").encode()
    received: dict[int, bytearray] = {out_read: bytearray(), err_read: bytearray()}
    with selectors.DefaultSelector() as selector:
        selector.register(out_read, selectors.EVENT_READ)
        selector.register(err_read, selectors.EVENT_READ)
        if in_write is not None:
            os.set_blocking(in_write, False)
            selector.register(in_write, selectors.EVENT_WRITE)
        try:
            while len(selector.get_map()) and time.monotonic() < deadline:
                for key, _events in selector.select(max(0.0, deadline - time.monotonic())):
                    fd = key.fd
                    if fd == in_write:
                        try:
                            pending = pending[os.write(fd, pending[:65536]) :]
                        except BrokenPipeError:
                            pending = b""
                        if not pending:
                            selector.unregister(fd)
                            os.close(fd)
                            in_write = None
                        continue
                    chunk = os.read(fd, 65536)
                    if chunk:
                        received[fd] += chunk
                    else:
                        selector.unregister(fd)
        finally:
            for fd in (out_read, err_read, in_write):
                if fd is not None:
                    os.close(fd)
    return bytes(received[out_read]), bytes(received[err_read])


def _text(data: bytes) -> str:
    """Decoded as ``subprocess`` does in text mode (universal newlines)."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")

"""A pre-imported Authsome that forks the tests' ``authsome`` processes.

The suite starts hundreds of daemons and over a thousand CLI commands, and on
two cores it is CPU-bound: an interpreter start plus Authsome's imports cost
about 0.9 s of CPU per daemon and 0.2 s per command, more than most of them
then do. This server imports Authsome once and forks a child per request; the
child takes the request's standard streams, environment, working directory
and arguments and runs the console script's ``main()``. What runs after the
imports is the same code, in a process of its own (own pid, signals, exit
status, ports, ``AUTHSOME_HOME``). ``tests/support/forked.py`` is the client
and decides when a real ``exec`` is needed instead (anything that changes how
the interpreter itself starts).

Run as a script, never imported by the tests: ``python zygote.py SOCKET
AUTHSOME`` (the console script's path: its folder is ``sys.path[0]``, as
when the script runs, instead of this file's).
It is single-threaded, so forking is safe. One request per connection on a
Unix stream socket: the client sends one JSON line ``{"argv", "env", "cwd"}``
with three file descriptors attached (stdin, stdout, stderr); the server
answers ``<pid>\\n`` once the child exists and ``<exit code>\\n`` when it
has ended (negative: killed by that signal, as ``subprocess`` reports it).
On SIGTERM, or when the process that started it is gone, it stops its
children (SIGTERM, then SIGKILL) and exits.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Any

#: What the CLI and the daemon import on their way: loaded once, here.
PRELOAD = (
    "authsome.cli.main",
    "authsome.cli.run_cmd",
    "authsome.client.connect",
    "authsome.daemon.server",
    "authsome.daemon.app",
    "alembic.command",
    "alembic.config",
)
_STOP_GRACE = 5.0


def _preload() -> None:
    import importlib
    import pkgutil

    for name in PRELOAD:
        importlib.import_module(name)
    import authsome.cli

    for module in pkgutil.iter_modules(authsome.cli.__path__, "authsome.cli."):
        importlib.import_module(module.name)
    if threading.active_count() != 1:  # a fork copies only the thread that forks
        raise RuntimeError(f"importing Authsome started threads: {threading.enumerate()}")


def _receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _address = socket.recv_fds(connection, 1 << 16, 3)
    while not data.endswith(b"\n"):
        more = connection.recv(1 << 16)
        if not more:
            raise ConnectionError("request cut short")
        data += more
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ConnectionError("a request needs three file descriptors")
    return json.loads(data), fds


def _stop_children(children: dict[int, socket.socket]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE
    while children and time.monotonic() < deadline:
        _reap(children)
        time.sleep(0.05)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _reap(children: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            connection.close()


def serve(path: str) -> tuple[dict[str, Any], list[int]] | None:
    """Fork children until told to stop; returns (request, fds) in a child, None here."""
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    stopping: list[int] = []
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wake-up byte is what matters
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    print("ready", flush=True)
    while not stopping and os.getppid() == parent:
        for key, _events in selector.select(timeout=1.0):
            if key.fileobj is listener:
                connection, _ = listener.accept()
                try:
                    request, fds = _receive(connection)
                except (OSError, ValueError):
                    connection.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for fd in (wake_read, wake_write):
                        os.close(fd)
                    for other in children.values():
                        other.close()
                    connection.close()
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    return request, fds
                for fd in fds:
                    os.close(fd)
                connection.sendall(f"{pid}\n".encode())
                children[pid] = connection
            else:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 4096):
                        pass
        _reap(children)
    _stop_children(children)
    with contextlib.suppress(OSError):
        os.unlink(path)
    return None


def become(request: dict[str, Any], fds: list[int]) -> None:
    """Turn this fork into the process ``exec`` would have started."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    # Fresh standard streams on the new descriptors, buffered as Python's start
    # would buffer them (line-buffered on a terminal, stderr always).
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    sys.stdin = sys.__stdin__ = open(0, encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(  # noqa: SIM115
        1, "w", buffering=1 if os.isatty(1) else -1, encoding=encoding, errors=errors, closefd=False
    )
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", buffering=1, encoding=encoding, errors="backslashreplace", closefd=False
    )


if __name__ == "__main__":
    sys.path[0] = os.path.dirname(sys.argv[2])
    _preload()
    # Out of the collector's sight: otherwise every child's collections, and
    # its exit, walk (and copy-on-write) the whole pre-imported heap.
    gc.freeze()
    forked = serve(sys.argv[1])
    if forked is not None:
        become(*forked)
        from authsome.cli.main import main

        sys.exit(main())

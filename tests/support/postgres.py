"""A throwaway PostgreSQL server for tests (Debian's ``postgresql`` package).

``initdb`` refuses to run as root, so when the tests run as root every server
command runs as the ``postgres`` user (``runuser``) in a temp folder that user
owns. The server listens on 127.0.0.1 on a free port, keeps its unix socket in
that folder, trusts loopback (a test server only) and skips fsync.

One server per test session (``shared_server()``); every daemon gets a fresh
database (``create_database()``), named after its home when the test store is
PostgreSQL, so a restarted daemon on the same home finds its data again.

``AUTHSOME_TEST_STORE=postgres`` (or ``pytest --store=postgres``) makes
``tests/support/daemon.py`` run every daemon against PostgreSQL.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

STORE_ENV = "AUTHSOME_TEST_STORE"
_RUN_AS = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<N>/bin`` with initdb, or one on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def postgres_available() -> bool:
    return postgres_bin_dir() is not None


_selected: str | None = None


def select_store(name: str | None) -> None:
    """Fix the store for this process (tests/conftest.py's pytest_configure calls it).

    ``None`` takes ``$AUTHSOME_TEST_STORE``, else SQLite. The choice is kept
    here, not re-read from the environment: tests that clear ``AUTHSOME_*``
    (to give a library client a clean one) must not switch the store.
    """
    global _selected
    _selected = (name or os.environ.get(STORE_ENV, "")).strip().lower() or "sqlite"


def selected_store() -> str:
    """``sqlite`` (default) or ``postgres``: which store daemons under test use."""
    if _selected is None:
        select_store(None)
    assert _selected is not None
    return _selected


def use_postgres() -> bool:
    return selected_store() in {"postgres", "postgresql", "pg"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", _RUN_AS, "--", *argv]
    return argv


@dataclass
class PostgresServer:
    """One initdb'd cluster in a temp folder; ``start``/``stop`` may repeat."""

    root: Path
    bin_dir: Path
    port: int = 0
    user: str = "postgres"
    _databases: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls) -> PostgresServer:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        root = Path(tempfile.mkdtemp(prefix="authsome-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam(_RUN_AS)
            os.chown(root, account.pw_uid, account.pw_gid)
        server = cls(root=root, bin_dir=bin_dir)
        server._initdb()
        return server

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            _as_server_user([str(self.bin_dir / argv[0]), *argv[1:]]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self, port: int | None = None) -> None:
        """Start on ``port`` (the previous one, else a free one) and wait until it accepts."""
        self.port = port or self.port or free_port()
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=400",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` closes clients; ``immediate`` is a crash)."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, driver: str = "postgresql") -> str:
        """A URL the product accepts (``postgresql://`` or ``postgresql+psycopg://``)."""
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its ``postgresql://`` URL."""
        name = name or f"t_{os.urandom(6).hex()}"
        with self._lock, self.admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            self._databases.add(name)
        return self.url(name)

    def database_for(self, key: str) -> str:
        """The database belonging to ``key`` (a home path), created on first use."""
        name = "h_" + hashlib.sha256(key.encode()).hexdigest()[:24]
        with self._lock:
            known = name in self._databases
        if not known:
            with self.admin_connection() as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
            if exists is None:
                return self.create_database(name)
            with self._lock:
                self._databases.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with self._lock:
            self._databases.discard(name)


_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> PostgresServer:
    """The session's server, started on first use and destroyed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server = PostgresServer.create()
            try:
                server.start()
            except BaseException:
                server.destroy()
                raise
            atexit.register(server.destroy)
            _shared = server
        elif not _shared.running():
            _shared.start()
        return _shared


def stop_shared_server() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.destroy()
            _shared = None


def wait_until_accepting(server: PostgresServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with server.admin_connection():
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

"""Where Authsome keeps its files (DESIGN §5), and how they are made safe.

Kept free of heavy imports: every CLI command reads it at start-up.

    $AUTHSOME_HOME (default ~/.authsome, mode 0700)
      client/   config.json, identities/<handle>.key (0600), ca/, logs/
      server/   master.key (0600), authsome.db, daemon.json, daemon.pid, ca/, logs/
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_URL = "http://127.0.0.1:7998"
DEFAULT_API_PORT = 7998
DEFAULT_PROXY_PORT = 7999


@dataclass(frozen=True)
class HomeLayout:
    """Paths under one ``AUTHSOME_HOME``; nothing is created until asked."""

    root: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> HomeLayout:
        env = os.environ if environ is None else environ
        raw = env.get("AUTHSOME_HOME") or str(Path.home() / ".authsome")
        return cls(Path(raw).expanduser().absolute())

    # client side
    @property
    def client_dir(self) -> Path:
        return self.root / "client"

    @property
    def identities_dir(self) -> Path:
        return self.client_dir / "identities"

    @property
    def client_config(self) -> Path:
        return self.client_dir / "config.json"

    @property
    def client_ca_dir(self) -> Path:
        return self.client_dir / "ca"

    def identity_key(self, handle: str) -> Path:
        return self.identities_dir / f"{handle}.key"

    # server side
    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def master_key_file(self) -> Path:
        return self.server_dir / "master.key"

    @property
    def database_file(self) -> Path:
        return self.server_dir / "authsome.db"

    @property
    def daemon_json(self) -> Path:
        return self.server_dir / "daemon.json"

    @property
    def pid_file(self) -> Path:
        return self.server_dir / "daemon.pid"

    @property
    def daemon_log(self) -> Path:
        return self.server_dir / "daemon.log"

    @property
    def server_ca_dir(self) -> Path:
        return self.server_dir / "ca"

    def ensure_private_dir(self, path: Path) -> Path:
        """Create ``path`` (and the home) with mode 0700, tightening existing ones."""
        for directory in (self.root, path):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)
        return path


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Create files readable by the owner only while the block runs."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600.

    The bytes go to a temporary file in the same folder first, so a crash
    leaves either the old file or the new one, never a half-written one.
    """
    with private_umask():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

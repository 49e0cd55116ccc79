"""Checks the daemon runs before it opens anything: who owns the home, who can read it.

The home, ``server/``, ``client/`` and ``client/identities/`` must be 0700,
and the files in ``server/`` (master key and its rotation copies, the
database and its WAL, the CA key, the daemon record) and the identity keys
``client/identities/*.key`` 0600. Loose modes are repaired when the current
user owns the path; a path owned by someone else is refused, since that user
could have read or replaced the key. The daemon also runs with umask 077, so
whatever it creates later (the database, its WAL) is private from the start.

The CLI checks an identity key the same way each time it uses one
(``IdentityKey.load``), since a client may run without a local daemon.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from authsome.errors import AuthsomeError
from authsome.home import HomeLayout

log = logging.getLogger("authsome.daemon")


class UnsafeHome(AuthsomeError):
    """A path in the home is owned by another user (exit 1)."""


def check_home(layout: HomeLayout) -> list[str]:
    """Repair or refuse unsafe modes; returns what was repaired (paths, no contents)."""
    os.umask(0o077)
    repaired: list[str] = []
    directories = (
        layout.root,
        layout.server_dir,
        layout.server_ca_dir,
        layout.client_dir,
        layout.identities_dir,
    )
    for directory in directories:
        if directory.is_dir():
            repaired += _tighten(directory, 0o700)
    for path in sorted(_server_files(layout) + _identity_keys(layout)):
        repaired += _tighten(path, 0o600)
    for name in repaired:
        log.warning("tightened the permissions of %s (it was readable by others)", name)
    return repaired


def _server_files(layout: HomeLayout) -> list[Path]:
    if not layout.server_dir.is_dir():
        return []
    files = [p for p in layout.server_dir.iterdir() if p.is_file() and not p.is_symlink()]
    if layout.server_ca_dir.is_dir():
        files += [p for p in layout.server_ca_dir.iterdir() if p.is_file() and not p.is_symlink()]
    return files


def _identity_keys(layout: HomeLayout) -> list[Path]:
    if not layout.identities_dir.is_dir():
        return []
    return [p for p in layout.identities_dir.glob("*.key") if p.is_file() and not p.is_symlink()]


def _tighten(path: Path, mode: int) -> list[str]:
    info = path.lstat()
    if info.st_uid != os.geteuid():
        raise UnsafeHome(
            f"{path} belongs to another user (uid {info.st_uid}); refusing to start",
            hint=f"chown it to the user running the daemon and chmod it {mode:o}, "
            "or choose another AUTHSOME_HOME",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, mode)
        return [str(path)]
    return []

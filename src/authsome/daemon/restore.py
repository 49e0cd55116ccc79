"""Restoring a vault backup into a home whose daemon is stopped.

Restore replaces the database file, so it never runs beside a serving daemon:
it refuses while this home's daemon process is alive. It also refuses to
replace a store that holds principals, vaults or connections unless forced,
and then keeps the replaced database beside it (``authsome.db.replaced-…``).

The order of steps keeps the home openable after a crash at any point:

1. the backup's database is written to a temporary file and checked;
2. if its master key differs from the current one, the key goes to the key
   store's ``new`` slot (the current database does not open with it, so a
   crash here is undone at the next start);
3. the database file is replaced (an atomic rename);
4. ``new`` is promoted to ``current``, the replaced key kept as ``old`` (a
   crash before this is finished at the next start).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from authsome.config import ServerSettings
from authsome.crypto.envelope import verify_key_check
from authsome.crypto.keystores import KeyStore
from authsome.crypto.masterkey import MasterKey, NoMasterKey, home_file_store, load_master_key
from authsome.daemon.services.backup import BackupFile, parse_backup, sqlite_path
from authsome.errors import AuthsomeError, OperationNotAllowed, VaultKeyError
from authsome.home import private_umask

_OCCUPANCY_TABLES = ("principals", "vaults", "connections")


@dataclass(frozen=True)
class RestoreResult:
    database: Path
    key_changed: bool
    replaced_copy: Path | None  # where the database it replaced was kept


def restore_backup(
    settings: ServerSettings,
    data: bytes,
    *,
    passphrase: Callable[[], str],
    force: bool,
) -> RestoreResult:
    """Replace this home's store with the backup in ``data``."""
    layout = settings.layout
    _refuse_if_serving(settings)
    backup = parse_backup(data)
    database = sqlite_path(settings.sqlalchemy_url)
    layout.ensure_private_dir(layout.server_dir)
    occupied = _occupancy(database)
    if occupied and not force:
        raise OperationNotAllowed(
            f"{database} already holds {occupied}; restoring would replace it",
            hint="add --force to replace it (the current database is kept beside it)",
        )
    current = _current_key(settings)
    key = _backup_key(backup, current, passphrase)
    staged = _stage_database(database, backup.database)
    try:
        verify_key_check(key, _key_check(staged))
        replaced = _keep_replaced(database) if occupied else None
        key_changed = current is None or current.key != key
        store = _store_for(settings, current)
        if current is not None and key_changed:
            store.write("new", key)
        _replace_database(staged, database)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    if current is None:
        store.write("current", key)
    elif key_changed:
        store.promote()
    return RestoreResult(database, key_changed, replaced)


def _refuse_if_serving(settings: ServerSettings) -> None:
    try:
        pid = int(settings.layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass  # alive, owned by someone else
    raise OperationNotAllowed(
        f"this home's daemon is running (pid {pid}); a restore replaces its database",
        hint="authsome daemon stop, then restore, then authsome daemon start",
    )


def _occupancy(database: Path) -> str | None:
    """What the store at ``database`` holds, or None when it is empty or absent."""
    if not database.exists() or database.stat().st_size == 0:
        return None
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error:
        return "data that cannot be read"
    try:
        counts = []
        for table in _OCCUPANCY_TABLES:
            with contextlib.suppress(sqlite3.OperationalError):
                (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                if count:
                    counts.append(f"{count} {table}")
        return ", ".join(counts) or None
    except sqlite3.DatabaseError:
        return "data that cannot be read"
    finally:
        connection.close()


def _current_key(settings: ServerSettings) -> MasterKey | None:
    """The home's key; None only when no source holds or names one.

    A key that is configured but cannot be had (an unreadable file, a keyring
    that fails or lacks the entry ``server/keyring.json`` names) is an error:
    restoring as if there were none would put a second key beside it.
    """
    try:
        return load_master_key(settings.layout, create=False)
    except NoMasterKey:
        return None


def _backup_key(
    backup: BackupFile, current: MasterKey | None, passphrase: Callable[[], str]
) -> bytes:
    if backup.sealed_key is not None:
        return backup.open_key(passphrase())
    if current is None:
        raise VaultKeyError(
            "this backup does not include the master key and this home has none",
            hint="restore the master key first, or use a backup made with --include-key",
        )
    return current.key


def _store_for(settings: ServerSettings, current: MasterKey | None) -> KeyStore:
    if current is None:
        return home_file_store(settings.layout)
    if current.store is None:
        raise OperationNotAllowed(
            "the master key comes from AUTHSOME_MASTER_KEY and differs from the backup's",
            hint="unset AUTHSOME_MASTER_KEY so the backup's key can be stored, "
            "or restore a backup made with that key",
        )
    return current.store


def _stage_database(database: Path, image: bytes) -> Path:
    with private_umask():
        fd, name = tempfile.mkstemp(dir=database.parent, prefix=f".{database.name}.restore.")
    staged = Path(name)
    with os.fdopen(fd, "wb") as handle:
        handle.write(image)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        connection = sqlite3.connect(staged)
        try:
            (result,) = connection.execute("PRAGMA integrity_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        staged.unlink(missing_ok=True)
        raise AuthsomeError("the backup's database is damaged") from exc
    if result != "ok":
        staged.unlink(missing_ok=True)
        raise AuthsomeError("the backup's database is damaged (integrity check failed)")
    return staged


def _key_check(database: Path) -> bytes:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT key_check FROM deployment").fetchone()
    except sqlite3.DatabaseError as exc:
        raise AuthsomeError("the backup holds no Authsome deployment") from exc
    finally:
        connection.close()
    if row is None:
        raise AuthsomeError("the backup holds no Authsome deployment")
    return bytes(row[0])


def _keep_replaced(database: Path) -> Path:
    """Copy the database about to be replaced (consistently) beside it, 0600."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    copy = database.with_name(f"{database.name}.replaced-{stamp}")
    source = sqlite3.connect(database)
    with private_umask():
        target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    os.chmod(copy, 0o600)
    return copy


def _replace_database(staged: Path, database: Path) -> None:
    if database.exists():
        # Fold the WAL into the main file, then drop it: a stale WAL left
        # beside the new file would be replayed into it.
        connection = sqlite3.connect(database)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    os.replace(staged, database)
    fd = os.open(database.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Vault backups: a consistent copy of the SQLite store, optionally with the key.

A backup file is::

    AUTHSOME-BACKUP 1\\n
    {"format": 1, "created_at": …, "deployment_id": …, "db_bytes": N,
     "db_sha256": …, "key": null | {"kdf": "argon2id+aes-256-gcm", "sealed": base64}}\\n
    <N bytes: an SQLite database image>

The database image comes from SQLite's online backup API, so it is consistent
even while the daemon serves. Secrets inside it stay sealed with the vaults'
data keys, which stay wrapped by the master key; the master key itself is in
the file only with ``include_key``, sealed with the admin's passphrase
(``crypto.passphrase``). ``daemon/restore.py`` reads these files back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from authsome.crypto.passphrase import open_with_passphrase, seal_with_passphrase
from authsome.errors import InvalidInput, OperationNotAllowed

MAGIC = b"AUTHSOME-BACKUP 1\n"
FORMAT = 1
KEY_PURPOSE = "authsome backup master key"
_MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class BackupFile:
    """A parsed backup: its header fields and the database image."""

    deployment_id: str
    created_at: str
    database: bytes
    sealed_key: bytes | None

    def open_key(self, passphrase: str) -> bytes:
        if self.sealed_key is None:
            raise InvalidInput("this backup does not include the master key")
        return open_with_passphrase(passphrase, self.sealed_key, purpose=KEY_PURPOSE)


def sqlite_path(database_url: str) -> Path:
    """The file behind a SQLite URL; other databases have their own backup tools."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise OperationNotAllowed(
            "vault backups cover the built-in SQLite store only",
            hint="back PostgreSQL up with pg_dump; keep the master key separately",
        )
    return Path(url.database)


def snapshot_database(path: Path) -> bytes:
    """A consistent image of the database at ``path`` (SQLite online backup API)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(":memory:")
    try:
        source.backup(target)
        return target.serialize()
    finally:
        target.close()
        source.close()


def make_backup(
    database: bytes,
    *,
    deployment_id: str,
    master_key: bytes | None,
    passphrase: str | None,
) -> bytes:
    """The bytes of a backup file; the master key goes in only when given, sealed."""
    key: dict[str, Any] | None = None
    if master_key is not None:
        if passphrase is None:
            raise InvalidInput("a backup that includes the key needs a passphrase")
        sealed = seal_with_passphrase(passphrase, master_key, purpose=KEY_PURPOSE)
        key = {"kdf": "argon2id+aes-256-gcm", "sealed": base64.b64encode(sealed).decode()}
    header = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "deployment_id": deployment_id,
        "db_bytes": len(database),
        "db_sha256": hashlib.sha256(database).hexdigest(),
        "key": key,
    }
    return MAGIC + json.dumps(header).encode() + b"\n" + database


def parse_backup(data: bytes) -> BackupFile:
    """Read a backup file; InvalidInput for anything that is not an intact one."""
    if not data.startswith(MAGIC):
        raise InvalidInput("this is not an Authsome backup file")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise InvalidInput("the backup file's header is damaged")
    try:
        header = json.loads(data[len(MAGIC) : end])
        database = data[end + 1 :]
        size, digest = int(header["db_bytes"]), str(header["db_sha256"])
        key = header.get("key")
        sealed = base64.b64decode(key["sealed"], validate=True) if key else None
        parsed = BackupFile(
            str(header["deployment_id"]), str(header["created_at"]), database, sealed
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("the backup file's header is damaged") from exc
    if header.get("format") != FORMAT:
        raise InvalidInput(f"backup format {header.get('format')} is not supported")
    if len(database) != size or hashlib.sha256(database).hexdigest() != digest:
        raise InvalidInput("the backup file is truncated or damaged (checksum mismatch)")
    return parsed

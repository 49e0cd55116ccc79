"""Where a master key is kept, with room for a rotation in progress.

A key store has three slots: ``current`` (the key in use), ``new`` (a key
being rotated in) and ``old`` (the key it replaced, kept until the user
removes it). Two stores exist:

- ``FileKeyStore``: ``master.key``, ``master.key.new``, ``master.key.old``
  beside it, each 0600 and written atomically;
- ``KeyringKeyStore``: entries of the OS keyring (``keyring`` library) under
  one service, the slots as suffixes of one account name. It is used when
  ``server/keyring.json`` says so (``authsome vault backend keyring``).

A key given in ``AUTHSOME_MASTER_KEY`` has no store: nothing can rewrite it.

Every failure to reach a store is a ``VaultKeyError``; a keyring that cannot
be read is never taken to mean "no key".

    store = FileKeyStore(layout.master_key_file, source="home-file")
    store.write("new", key)            # master.key.new, mode 0600
    store.promote()                    # old <- current, current <- new
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from authsome.errors import VaultKeyError
from authsome.home import HomeLayout, write_private_file

KEY_BYTES = 32
Slot = Literal["current", "new", "old"]
SLOTS: tuple[Slot, ...] = ("current", "new", "old")
KEYRING_SERVICE = "authsome"
_MAX_FILE_BYTES = 4096


class KeyStore(ABC):
    """Reads and writes a master key in three slots; never logs a key."""

    source: str

    @abstractmethod
    def describe(self, slot: Slot = "current") -> str:
        """Where a slot lives, for messages (a path or a keyring entry name)."""

    @abstractmethod
    def read(self, slot: Slot = "current") -> bytes | None:
        """The key in ``slot``, None when the slot is empty."""

    @abstractmethod
    def write(self, slot: Slot, key: bytes) -> None:
        """Store ``key`` in ``slot`` durably, replacing what was there."""

    @abstractmethod
    def remove(self, slot: Slot) -> None:
        """Empty ``slot`` (no error when it already is)."""

    def save_old(self) -> None:
        """Copy the current key to ``old`` (the first half of ``promote``)."""
        current = self.read("current")
        if current is not None:
            self.write("old", current)

    @abstractmethod
    def replace_current(self) -> None:
        """Make ``new`` the current key and empty ``new`` (the second half)."""

    def promote(self) -> None:
        """Finish a rotation: old <- current, current <- new."""
        self.save_old()
        self.replace_current()


class FileKeyStore(KeyStore):
    """A key file (base64 text, 0600) and its ``.new``/``.old`` siblings."""

    def __init__(self, path: Path, *, source: str) -> None:
        self.path = path
        self.source = source

    def _path(self, slot: Slot) -> Path:
        return self.path if slot == "current" else self.path.with_name(f"{self.path.name}.{slot}")

    def describe(self, slot: Slot = "current") -> str:
        return str(self._path(slot))

    def read(self, slot: Slot = "current") -> bytes | None:
        path = self._path(slot)
        if not path.exists():
            return None
        return read_key_file(path, str(path))

    def write(self, slot: Slot, key: bytes) -> None:
        _check_length(key)
        write_private_file(self._path(slot), base64.b64encode(key) + b"\n")
        _fsync_dir(self.path.parent)

    def remove(self, slot: Slot) -> None:
        self._path(slot).unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def replace_current(self) -> None:
        new = self._path("new")
        if new.exists():
            os.replace(new, self.path)  # atomic: the old key or the new one, never neither
            _fsync_dir(self.path.parent)


@dataclass(frozen=True)
class KeyringConfig:
    """``server/keyring.json``: which keyring entry holds this home's master key."""

    service: str
    account: str

    @classmethod
    def path(cls, layout: HomeLayout) -> Path:
        return layout.server_dir / "keyring.json"

    @classmethod
    def read(cls, layout: HomeLayout) -> KeyringConfig | None:
        path = cls.path(layout)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(service=str(data["service"]), account=str(data["account"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VaultKeyError(
                f"{path} says the master key is in the OS keyring but cannot be read.",
                hint="Fix or remove that file (removing it makes the daemon look for "
                "server/master.key instead).",
            ) from exc

    def write(self, layout: HomeLayout) -> None:
        body = json.dumps({"service": self.service, "account": self.account}, indent=2)
        write_private_file(self.path(layout), body.encode() + b"\n")
        _fsync_dir(layout.server_dir)

    @classmethod
    def remove(cls, layout: HomeLayout) -> None:
        cls.path(layout).unlink(missing_ok=True)
        _fsync_dir(layout.server_dir)


class KeyringKeyStore(KeyStore):
    """The OS keyring: one service, the account name plus ``#new``/``#old``."""

    source = "keyring"

    def __init__(self, config: KeyringConfig) -> None:
        self.config = config

    def _account(self, slot: Slot) -> str:
        return self.config.account if slot == "current" else f"{self.config.account}#{slot}"

    def describe(self, slot: Slot = "current") -> str:
        return f"OS keyring entry {self.config.service}/{self._account(slot)}"

    def read(self, slot: Slot = "current") -> bytes | None:
        with _keyring_errors(f"read {self.describe(slot)}"):
            text = _keyring().get_password(self.config.service, self._account(slot))
        return None if text is None else decode_key(text, self.describe(slot))

    def write(self, slot: Slot, key: bytes) -> None:
        _check_length(key)
        text = base64.b64encode(key).decode("ascii")
        with _keyring_errors(f"write {self.describe(slot)}"):
            _keyring().set_password(self.config.service, self._account(slot), text)
        if self.read(slot) != key:
            raise VaultKeyError(f"The {self.describe(slot)} did not keep the key written to it.")

    def remove(self, slot: Slot) -> None:
        if self.read(slot) is None:
            return
        with _keyring_errors(f"remove {self.describe(slot)}"):
            _keyring().delete_password(self.config.service, self._account(slot))

    def replace_current(self) -> None:
        # Not atomic, but safe: current becomes the new key first; a leftover
        # ``#new`` equal to the current key is removed at the next start.
        new = self.read("new")
        if new is not None:
            self.write("current", new)
            self.remove("new")


def _keyring() -> Any:
    try:
        import keyring
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise VaultKeyError("The keyring package is not installed.") from exc
    return keyring


@contextlib.contextmanager
def _keyring_errors(what: str) -> Any:
    """Any failure of the keyring backend becomes one VaultKeyError naming the step."""
    try:
        yield
    except VaultKeyError:
        raise
    except Exception as exc:  # keyring backends raise many unrelated types
        raise VaultKeyError(
            f"Could not {what} ({type(exc).__name__}).",
            hint="Check that an OS keyring is available and unlocked for this user "
            "(PYTHON_KEYRING_BACKEND selects one), or move the key back with "
            "`authsome vault backend file` from a working setup.",
        ) from exc


def read_key_file(path: Path, where: str) -> bytes:
    """Read a key file, tightening loose permissions only on a file we own."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_mode & 0o077:
                if info.st_uid != os.geteuid():
                    raise VaultKeyError(
                        f"The master key file {where} is readable by others and "
                        "owned by another user; refusing to use it.",
                        hint="Make it mode 0600 and owned by the user running the daemon.",
                    )
                os.fchmod(handle.fileno(), stat.S_IRUSR | stat.S_IWUSR)
            content = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise VaultKeyError(f"The master key file {where} cannot be read: {exc.strerror}.") from exc
    if len(content) > _MAX_FILE_BYTES:
        raise VaultKeyError(f"The master key file {where} is too large to hold a key.")
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError as exc:
        raise VaultKeyError(f"The master key in {where} is not base64 text.") from exc
    return decode_key(text, where)


def decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VaultKeyError(f"The master key in {where} is not valid base64.") from exc
    if len(key) != KEY_BYTES:
        raise VaultKeyError(
            f"The master key in {where} must be base64 of exactly {KEY_BYTES} bytes."
        )
    return key


def _check_length(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError("a master key must be 32 bytes")


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (POSIX)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

"""Where a master key is kept, with room for a rotation in progress.

A key store has three slots: ``current`` (the key in use), ``new`` (a key
being rotated in) and ``old`` (the key it replaced, kept until the user
removes it). A rotation that finds an earlier, different key in ``old``
first keeps that one under a name of its own (``old.<UTC time>``), so a
second rotation never loses the key that opens backups made before the
first. Two stores exist:

- ``FileKeyStore``: ``master.key``, ``master.key.new``, ``master.key.old``
  (and ``master.key.old.20260101T120000Z``…) beside it, each 0600 and
  written atomically;
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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from authsome.errors import VaultKeyError
from authsome.home import HomeLayout, write_private_file

KEY_BYTES = 32
Slot = Literal["current", "new", "old"]
SLOTS: tuple[Slot, ...] = ("current", "new", "old")
KEYRING_SERVICE = "authsome"
_MAX_FILE_BYTES = 4096
_MAX_KEPT_PER_SECOND = 100  # earlier old keys kept under one timestamp (-2, -3…)


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

    @abstractmethod
    def keep_aside(self, key: bytes) -> str:
        """Store ``key`` under a new name beside ``old``, never replacing one; where it went."""

    def save_old(self) -> str | None:
        """Copy the current key to ``old`` (the first half of ``promote``).

        An earlier, different key in ``old`` is kept aside first (``keep_aside``)
        and where it went is returned; None when there was nothing to keep.
        Run again after a crash, it finds ``old`` already holding the current
        key and keeps nothing twice (a crash between the two writes can leave
        one key kept twice, never none).
        """
        current = self.read("current")
        if current is None:
            return None
        earlier = self.read("old")
        kept = None
        if earlier is not None and earlier != current:
            kept = self.keep_aside(earlier)
        self.write("old", current)
        return kept

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

    def keep_aside(self, key: bytes) -> str:
        _check_length(key)
        data = base64.b64encode(key) + b"\n"
        for name in _kept_names(self._path("old").name):
            path = self.path.with_name(name)
            try:
                # O_EXCL: an existing kept key is never replaced.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:
                path.unlink(missing_ok=True)  # the key is still in ``old``
                raise
            _fsync_dir(self.path.parent)
            return str(path)
        raise _no_free_name(self.describe("old"))

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

    def keep_aside(self, key: bytes) -> str:
        _check_length(key)
        text = base64.b64encode(key).decode("ascii")
        service = self.config.service
        for account in _kept_names(self._account("old")):
            where = f"OS keyring entry {service}/{account}"
            with _keyring_errors(f"keep the earlier old key in {where}"):
                if _keyring().get_password(service, account) is not None:
                    continue  # never replace a kept key
                _keyring().set_password(service, account, text)
                if _keyring().get_password(service, account) != text:
                    raise VaultKeyError(f"The {where} did not keep the key written to it.")
            return where
        raise _no_free_name(self.describe("old"))

    def replace_current(self) -> None:
        # Not atomic, but safe: current becomes the new key first; a leftover
        # ``#new`` equal to the current key is removed at the next start.
        new = self.read("new")
        if new is not None:
            self.write("current", new)
            self.remove("new")


def _kept_names(old: str) -> Iterator[str]:
    """``<old>.<UTC time>``, then ``-2``, ``-3``… for keys kept within the same second."""
    base = f"{old}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    yield base
    for count in range(2, _MAX_KEPT_PER_SECOND + 1):
        yield f"{base}-{count}"


def _no_free_name(old: str) -> VaultKeyError:
    return VaultKeyError(
        f"No free name beside {old} to keep the earlier old key in; nothing was replaced.",
        hint="Move the kept master.key.old.* copies (or keyring entries) you still need "
        "somewhere safe, remove the rest, and try again.",
    )


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

"""Where the daemon finds its 256-bit master key (DESIGN §4).

Sources, first match wins:

1. ``AUTHSOME_MASTER_KEY``: base64 of exactly 32 bytes (source ``"env"``);
2. ``AUTHSOME_MASTER_KEY_FILE``: a file holding that base64 text (``"file"``);
3. the OS keyring, when ``server/keyring.json`` names an entry (``"keyring"``);
   a keyring that cannot be read, or lacks the entry, is an error;
4. ``$AUTHSOME_HOME/server/master.key`` (``"home-file"``), created with mode
   0600 on first start when the caller allows it.

Every source but the first has a ``KeyStore`` (``MasterKey.store``) through
which rotation and ``vault backend`` rewrite it. Messages name a source,
never its contents.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from authsome.crypto.envelope import verify_key_check
from authsome.crypto.keystores import (
    KEY_BYTES,
    FileKeyStore,
    KeyringConfig,
    KeyringKeyStore,
    KeyStore,
    decode_key,
)
from authsome.errors import VaultKeyError
from authsome.home import HomeLayout

ENV_KEY = "AUTHSOME_MASTER_KEY"
ENV_KEY_FILE = "AUTHSOME_MASTER_KEY_FILE"


class NoMasterKey(VaultKeyError):
    """No source holds a master key and none is configured (a brand-new home).

    The only "no key" answer: a configured source that fails (an unreadable
    keyring, a missing keyring entry, a bad file) raises ``VaultKeyError``.
    """


@dataclass(frozen=True)
class MasterKey:
    """The master key and where it came from; ``repr`` never shows the key."""

    key: bytes = field(repr=False)
    source: str
    store: KeyStore | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError("a master key must be 32 bytes")


def load_master_key(
    layout: HomeLayout, *, create: bool, environ: Mapping[str, str] | None = None
) -> MasterKey:
    """Find the master key; create the home file only when ``create`` is true.

    Pass ``create=False`` whenever encrypted data already exists: a new key
    would not open it, so a missing key must be an error instead.
    """
    env = os.environ if environ is None else environ
    for source in _SOURCES:
        found = source(layout, env)
        if found is not None:
            return found
    if not create:
        raise NoMasterKey(
            f"No master key found: {ENV_KEY} and {ENV_KEY_FILE} are not set "
            f"and {layout.master_key_file} does not exist.",
            hint="Restore the master key this data was encrypted with.",
        )
    return _create_home_file(layout)


def _from_env(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    text = env.get(ENV_KEY)
    if not text:
        return None
    return MasterKey(decode_key(text, ENV_KEY), "env")


def _from_env_file(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    raw_path = env.get(ENV_KEY_FILE)
    if not raw_path:
        return None
    path = Path(raw_path).expanduser()
    if not path.exists():
        raise VaultKeyError(f"{ENV_KEY_FILE} names {path}, which does not exist.")
    store = FileKeyStore(path, source="file")
    key = store.read()
    assert key is not None
    return MasterKey(key, "file", store)


def _from_keyring(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    config = KeyringConfig.read(layout)
    if config is None:
        return None
    store = KeyringKeyStore(config)
    key = store.read()
    if key is None:
        raise VaultKeyError(
            f"{KeyringConfig.path(layout)} says the master key is in the "
            f"{store.describe()}, but that entry is missing.",
            hint="Unlock or restore that keyring entry; Authsome never makes a new key "
            "over existing data.",
        )
    return MasterKey(key, "keyring", store)


def _from_home_file(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    store = home_file_store(layout)
    key = store.read()
    return None if key is None else MasterKey(key, "home-file", store)


def home_file_store(layout: HomeLayout) -> FileKeyStore:
    """The default store, ``server/master.key``."""
    return FileKeyStore(layout.master_key_file, source="home-file")


_SOURCES: tuple[Callable[[HomeLayout, Mapping[str, str]], MasterKey | None], ...] = (
    _from_env,
    _from_env_file,
    _from_keyring,
    _from_home_file,
)


def _create_home_file(layout: HomeLayout) -> MasterKey:
    key = secrets.token_bytes(KEY_BYTES)
    layout.ensure_private_dir(layout.server_dir)
    store = home_file_store(layout)
    store.write("current", key)
    return MasterKey(key, "home-file", store)


def new_master_key() -> bytes:
    """A fresh random 256-bit master key (for rotation)."""
    return secrets.token_bytes(KEY_BYTES)


def open_with_recovery(found: MasterKey, key_check: bytes) -> MasterKey:
    """The key that opens the data, finishing or undoing an interrupted rotation.

    A rotation writes the new key to the store's ``new`` slot, then commits the
    re-wrapped data keys and the new key check in one transaction, then
    promotes ``new`` to ``current``. So at start:

    - the current key passes the check: any ``new`` key is left over from a
      rotation that never committed (or already finished) and is removed;
    - otherwise a ``new`` key that passes the check belongs to a committed
      rotation, which is finished now (the replaced key is kept as ``old``);
    - otherwise the key is wrong: ``VaultKeyError``, nothing changed.
    """
    store = found.store
    try:
        verify_key_check(found.key, key_check)
    except VaultKeyError:
        new = store.read("new") if store is not None else None
        if store is None or new is None or not _opens(new, key_check):
            raise
        store.promote()
        return MasterKey(new, found.source, store)
    if store is not None and store.read("new") is not None:
        store.remove("new")
    return found


def _opens(key: bytes, key_check: bytes) -> bool:
    try:
        verify_key_check(key, key_check)
    except VaultKeyError:
        return False
    return True

"""Moving the master key between the OS keyring and ``server/master.key``.

``authsome vault backend keyring|file|env``. Every move writes the key to
its new place, reads it back and checks it against the stored key check,
switches the pointer (``server/keyring.json``), and only then removes the
old copy. A crash in between leaves two copies of the same key, never none.

``env``: Authsome never prints the master key, not even to an admin. Moving
to the environment is therefore two steps: the first call explains how to
feed the key from where it is now into ``AUTHSOME_MASTER_KEY``; once the
daemon runs with the key from the environment, the second call removes
the copies in the file and the keyring that hold that same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from authsome.crypto.envelope import verify_key_check
from authsome.crypto.keystores import (
    KEYRING_SERVICE,
    KeyringConfig,
    KeyringKeyStore,
    KeyStore,
)
from authsome.crypto.masterkey import ENV_KEY, ENV_KEY_FILE, MasterKey, home_file_store
from authsome.errors import VaultKeyError
from authsome.home import HomeLayout

Backend = Literal["keyring", "file", "env"]


@dataclass(frozen=True)
class BackendResult:
    backend: Backend
    changed: bool
    location: str  # where the key is now (or stays)
    message: str
    master_key: MasterKey  # what the running daemon should use from now on


def move_master_key(
    layout: HomeLayout,
    master_key: MasterKey,
    key_check: bytes,
    target: Backend,
    *,
    deployment_id: str,
) -> BackendResult:
    """Move (or, for ``env``, explain how to move) the master key to ``target``."""
    if target == "env":
        return _to_env(layout, master_key)
    if master_key.source == ("keyring" if target == "keyring" else "home-file"):
        assert master_key.store is not None
        return BackendResult(
            target,
            False,
            master_key.store.describe(),
            "the master key is already there",
            master_key,
        )
    destination: KeyStore = (
        KeyringKeyStore(_keyring_config(deployment_id))
        if target == "keyring"
        else home_file_store(layout)
    )
    _copy_verified(master_key, destination, key_check)
    if target == "keyring":
        assert isinstance(destination, KeyringKeyStore)
        destination.config.write(layout)
    else:
        KeyringConfig.remove(layout)
    if master_key.source in ("env", "file"):
        variable = ENV_KEY if master_key.source == "env" else ENV_KEY_FILE
        message = (
            f"the master key is now also in the {destination.describe()}; {variable} still "
            f"takes precedence: remove it from the daemon's environment and restart"
        )
        return BackendResult(target, True, destination.describe(), message, master_key)
    assert master_key.store is not None
    master_key.store.remove("old")
    master_key.store.remove("current")
    message = f"the master key moved to the {destination.describe()}"
    moved = MasterKey(master_key.key, destination.source, destination)
    return BackendResult(target, True, destination.describe(), message, moved)


def _copy_verified(master_key: MasterKey, destination: KeyStore, key_check: bytes) -> None:
    """Write the key (and a kept old key) to ``destination``; prove it reads back."""
    source = master_key.store
    old = source.read("old") if source is not None else None
    if old is not None:
        destination.write("old", old)
    destination.write("current", master_key.key)
    copied = destination.read("current")
    if copied is None:
        raise VaultKeyError(f"the {destination.describe()} did not keep the master key")
    verify_key_check(copied, key_check)


def _to_env(layout: HomeLayout, master_key: MasterKey) -> BackendResult:
    if master_key.store is not None:
        where = master_key.store.describe()
        command = _read_command(master_key.store)
        message = (
            f"Authsome never prints the master key. It stays in the {where} until the daemon "
            f"runs with it in {ENV_KEY}: start the daemon as "
            f'{ENV_KEY}="$({command})" authsome daemon start, then run '
            "`authsome vault backend env` again to remove the stored copy."
        )
        return BackendResult("env", False, where, message, master_key)
    removed = [
        store.describe() for store in _copies(layout) if _remove_if_same(layout, store, master_key)
    ]
    message = (
        "the master key is only in the environment now; removed " + ", ".join(removed)
        if removed
        else f"the master key comes from {ENV_KEY}; no stored copy was found"
    )
    return BackendResult("env", bool(removed), ENV_KEY, message, master_key)


def _copies(layout: HomeLayout) -> list[KeyStore]:
    stores: list[KeyStore] = [home_file_store(layout)]
    config = KeyringConfig.read(layout)
    if config is not None:
        stores.append(KeyringKeyStore(config))
    return stores


def _remove_if_same(layout: HomeLayout, store: KeyStore, master_key: MasterKey) -> bool:
    if store.read("current") != master_key.key:
        return False  # another key: not ours to delete
    store.remove("current")
    if isinstance(store, KeyringKeyStore):
        KeyringConfig.remove(layout)
    return True


def _read_command(store: KeyStore) -> str:
    if isinstance(store, KeyringKeyStore):
        return f"python -m keyring get {store.config.service} {store.config.account}"
    return f"cat {store.describe()}"


def _keyring_config(deployment_id: str) -> KeyringConfig:
    return KeyringConfig(service=KEYRING_SERVICE, account=f"master-key:{deployment_id}")

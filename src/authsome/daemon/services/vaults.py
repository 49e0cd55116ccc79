"""Vaults and their data keys (DESIGN §4).

Unwrapped data keys are kept in memory for the life of the daemon: the
daemon is the only process that opens the vault, and unwrapping on every
resolve would put the master key on the hot path.

Master-key rotation (``services/key_rotation.py``) changes only how data
keys are wrapped, never the data keys, so cached ones stay valid. During and
after a rotation both master keys are known: unwrapping tries each, and a
new vault is wrapped with whichever key the deployment's key check names,
read inside the caller's transaction, so it agrees with the committed state.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.crypto.envelope import (
    new_data_key,
    unwrap_data_key,
    verify_key_check,
    wrap_data_key,
)
from authsome.daemon.services.ids import new_id
from authsome.errors import DecryptionError, VaultKeyError
from authsome.store.models import Deployment, Principal, Vault


class VaultKeys:
    """Creates vaults and hands out their unwrapped data keys."""

    def __init__(self, master_key: bytes) -> None:
        self._master_keys: tuple[bytes, ...] = (master_key,)  # newest first
        self._data_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def add_master_key(self, key: bytes) -> None:
        """Know ``key`` as the newest master key, keeping the one before it."""
        with self._lock:
            self._master_keys = (key, self._master_keys[0])

    def wrapping_key(self, session: Session) -> bytes:
        """The master key the committed key check names (the newest, after a rotation)."""
        deployment = session.scalar(select(Deployment))
        keys = self._master_keys
        if deployment is None:
            return keys[0]
        for key in keys:
            try:
                verify_key_check(key, deployment.key_check)
            except VaultKeyError:
                continue
            return key
        raise VaultKeyError("no master key known to the daemon matches the stored key check")

    def ensure_vault(self, session: Session, principal: Principal) -> Vault:
        """The principal's vault, created with a fresh data key on first use."""
        vault = session.scalar(select(Vault).where(Vault.principal_id == principal.id))
        if vault is not None:
            return vault
        vault_id = new_id()
        data_key = new_data_key()
        vault = Vault(
            id=vault_id,
            principal_id=principal.id,
            name=f"{principal.email}'s vault",
            wrapped_data_key=wrap_data_key(self.wrapping_key(session), data_key, vault_id=vault_id),
        )
        session.add(vault)
        session.flush()
        return vault

    def data_key(self, vault: Vault) -> bytes:
        with self._lock:
            cached = self._data_keys.get(vault.id)
        if cached is not None:
            return cached
        data_key = self.unwrap(vault.id, vault.wrapped_data_key)
        with self._lock:
            self._data_keys[vault.id] = data_key
        return data_key

    def unwrap(self, vault_id: str, wrapped: bytes) -> bytes:
        """Open a wrapped data key with any known master key (newest first)."""
        for key in self._master_keys[:-1]:
            try:
                return unwrap_data_key(key, wrapped, vault_id=vault_id)
            except DecryptionError:
                continue
        return unwrap_data_key(self._master_keys[-1], wrapped, vault_id=vault_id)

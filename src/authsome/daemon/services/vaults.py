"""Vaults and their data keys (DESIGN §4).

Unwrapped data keys are kept in memory for the life of the daemon: the
daemon is the only process that opens the vault, and unwrapping on every
resolve would put the master key on the hot path.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.crypto.envelope import new_data_key, unwrap_data_key, wrap_data_key
from authsome.daemon.services.ids import new_id
from authsome.store.models import Principal, Vault


class VaultKeys:
    """Creates vaults and hands out their unwrapped data keys."""

    def __init__(self, master_key: bytes) -> None:
        self._master_key = master_key
        self._data_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

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
            wrapped_data_key=wrap_data_key(self._master_key, data_key, vault_id=vault_id),
        )
        session.add(vault)
        session.flush()
        return vault

    def data_key(self, vault: Vault) -> bytes:
        with self._lock:
            cached = self._data_keys.get(vault.id)
        if cached is not None:
            return cached
        data_key = unwrap_data_key(self._master_key, vault.wrapped_data_key, vault_id=vault.id)
        with self._lock:
            self._data_keys[vault.id] = data_key
        return data_key

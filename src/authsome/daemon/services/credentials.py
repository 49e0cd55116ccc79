"""Turning a connection into the headers the proxy injects, with a cache.

The proxy lives in the daemon (DESIGN §2b), so a credential is decrypted
once and kept as ready-made header bytes until a login, logout or refresh
for that provider invalidates it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services.connections import find_connection, open_secret
from authsome.daemon.services.vaults import VaultKeys
from authsome.providers.schema import ProviderDefinition
from authsome.store.models import Vault


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    provider: str
    connection: str | None  # None: no usable connection
    headers: tuple[tuple[bytes, bytes], ...]
    unusable: str | None = None  # the status of a connection that exists but is not active


def header_for(provider: ProviderDefinition, secret: str) -> tuple[bytes, bytes]:
    """The header that carries ``secret`` for ``provider`` (name, value)."""
    assert provider.api_key is not None
    value = provider.api_key.header_value(secret)  # Bearer, raw, template or HTTP Basic
    return provider.api_key.header_name.encode("latin-1"), value.encode("latin-1")


CacheKey = tuple[str, str, str | None]


class CredentialResolver:
    def __init__(self, sessions: sessionmaker[Session], keys: VaultKeys) -> None:
        self._sessions = sessions
        self._keys = keys
        self._cache: dict[CacheKey, ResolvedCredential] = {}
        self._lock = threading.Lock()

    def cached(
        self, vault_id: str, provider: str, connection: str | None
    ) -> ResolvedCredential | None:
        return self._cache.get((vault_id, provider, connection))

    def resolve(
        self, vault_id: str, provider: ProviderDefinition, connection: str | None
    ) -> ResolvedCredential:
        """Load, decrypt and cache; blocking (run it in a worker thread)."""
        key = (vault_id, provider.name, connection)
        with self._sessions() as session:
            vault = session.get(Vault, vault_id)
            found = find_connection(session, vault_id, provider.name, connection) if vault else None
            if vault is None or found is None or found.status != "active":
                status = found.status if vault is not None and found is not None else None
                resolved = ResolvedCredential(provider.name, None, (), unusable=status)
            else:
                secret = open_secret(session, self._keys, vault, found, "api_key")
                resolved = ResolvedCredential(
                    provider.name, found.name, (header_for(provider, secret),)
                )
        with self._lock:
            self._cache[key] = resolved
        return resolved

    def invalidate(self, vault_id: str, provider: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == vault_id and k[1] == provider]:
                del self._cache[key]

    def invalidate_provider(self, provider: str) -> None:
        """Forget ``provider`` in every vault: its definition (header format) changed."""
        with self._lock:
            for key in [k for k in self._cache if k[1] == provider]:
                del self._cache[key]

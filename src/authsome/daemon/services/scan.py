"""The daemon's half of ``authsome scan``: detection rules and drift by fingerprint.

The client finds candidate keys itself and sends only their SHA-256, so a
key found on disk never travels. Comparing a hash is no oracle worth having:
provider keys are long random strings, so guessing one by hash is as hard
as guessing the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from authsome.daemon.services.connections import list_connections, open_secret
from authsome.daemon.services.vaults import VaultKeys
from authsome.providers.catalogue import ProviderCatalogue
from authsome.store.models import Vault


@dataclass(frozen=True)
class ScanRule:
    provider: str
    variables: tuple[str, ...]
    key_pattern: str | None


@dataclass(frozen=True)
class Drift:
    provider: str
    sha256: str
    status: str  # new | same | differs
    connection: str | None


def scan_rules(catalogue: ProviderCatalogue) -> list[ScanRule]:
    """API-key providers with the variable names their whole keys are usually kept in.

    A variable the ``export`` map fills with half of a ``user:secret`` key
    (``API_KEY_PASSWORD``, even when it is ``env_var``) is left out: half a
    key can neither be compared with the stored pair nor imported as a key.
    """
    rules = []
    for definition in catalogue.all():
        if definition.api_key is None:
            continue
        export = definition.export or {}
        env_var = definition.api_key.env_var
        names = [env_var] if env_var and export.get(env_var, "API_KEY") == "API_KEY" else []
        names += [v for v, src in export.items() if src == "API_KEY"]
        if names:
            rules.append(
                ScanRule(
                    definition.name, tuple(dict.fromkeys(names)), definition.api_key.key_pattern
                )
            )
    return rules


def compare_fingerprints(
    session: Session, keys: VaultKeys, vault: Vault, items: Iterable[tuple[str, str]]
) -> list[Drift]:
    """For each (provider, sha256): new, same as a stored connection, or differs."""
    stored: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for connection in list_connections(session, vault.id):
        if connection.auth_type != "api_key":
            continue
        secret = open_secret(session, keys, vault, connection, "api_key")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        stored[connection.provider].append((connection.name, digest))
    results = []
    for provider, sha256 in items:
        known = stored.get(provider, [])
        match = next((name for name, d in known if hmac.compare_digest(d, sha256)), None)
        status = "same" if match else ("differs" if known else "new")
        results.append(Drift(provider, sha256, status, match))
    return results

"""``authsome doctor``'s vault round trip: passes with a working data key, fails
with the fix when the key cannot be unwrapped or does not open what it sealed."""

from __future__ import annotations

import secrets

from authsome.crypto.envelope import new_data_key, wrap_data_key
from authsome.daemon.services.doctor import RESTART, vault_round_trip
from authsome.daemon.services.vaults import VaultKeys
from authsome.store.models import Vault


def _vault(master_key: bytes) -> Vault:
    """A vault whose data key is wrapped with ``master_key`` (not stored: the
    check needs only its id and wrapped key)."""
    vault_id = secrets.token_hex(16)
    wrapped = wrap_data_key(master_key, new_data_key(), vault_id=vault_id)
    return Vault(id=vault_id, principal_id="p1", name="p's vault", wrapped_data_key=wrapped)


class ShiftingKeys(VaultKeys):
    """Hands out a different data key each time: what seals cannot open."""

    def data_key(self, vault: Vault) -> bytes:
        return new_data_key()


def test_the_round_trip_passes_with_the_vaults_own_key() -> None:
    master = secrets.token_bytes(32)
    check = vault_round_trip(VaultKeys(master), _vault(master))
    assert check.ok and check.name == "vault" and check.fix is None
    assert check.detail == "sealed and opened a random value with your vault's key"


def test_a_data_key_the_master_key_cannot_unwrap_fails_with_the_fix() -> None:
    other_master = secrets.token_bytes(32)
    check = vault_round_trip(VaultKeys(secrets.token_bytes(32)), _vault(other_master))
    assert not check.ok and check.name == "vault"
    assert check.detail == "the vault's data key does not work (decryption_failed)"
    assert check.fix == RESTART


def test_a_key_that_does_not_open_what_it_sealed_fails_with_the_fix() -> None:
    master = secrets.token_bytes(32)
    check = vault_round_trip(ShiftingKeys(master), _vault(master))
    assert not check.ok
    assert check.detail == "the vault's data key does not work (decryption_failed)"
    assert check.fix == RESTART

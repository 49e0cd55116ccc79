"""Vault envelope encryption (DESIGN §4): seal fields with a data key, wrap data keys.

Every blob is ``version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext+tag``.
The version byte is also part of the associated data, so it cannot be swapped.
The associated data names what the blob belongs to (a field of a connection in
a vault, or a vault's data key), so a blob copied to another place fails to open.

    dek = new_data_key()
    wrapped = wrap_data_key(master_key, dek, vault_id=vault.id)       # store this
    ctx = FieldContext(vault_id=vault.id, provider="github", connection="default",
                       field="access_token")
    blob = seal_field(dek, b"gho_...", ctx)                            # and this
    assert open_field(unwrap_data_key(master_key, wrapped, vault_id=vault.id),
                      blob, ctx) == b"gho_..."
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authsome.errors import DecryptionError, VaultKeyError

VERSION = 0x01
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER = bytes([VERSION])

# Prefixes keep the three kinds of associated data apart: a sealed field can never
# be opened as a wrapped key or as the key check, whatever the names inside.
_FIELD_PREFIX = "authsome/field/v1"
_DATA_KEY_PREFIX = "authsome/data-key/v1"
_KEY_CHECK_PREFIX = "authsome/key-check/v1"
_KEY_CHECK_VALUE = b"authsome master key check"

_OPAQUE_FAILURE = "A stored secret could not be decrypted (wrong key or damaged data)."


def new_data_key() -> bytes:
    """A fresh random 256-bit data key for one vault."""
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True)
class FieldContext:
    """Names the record and field a secret belongs to; bound in as associated data."""

    vault_id: str
    provider: str
    connection: str
    field: str

    def associated_data(self) -> bytes:
        # A JSON array is unambiguous: no choice of names can make two
        # different contexts encode to the same bytes.
        return _encode_ad(_FIELD_PREFIX, self.vault_id, self.provider, self.connection, self.field)


def wrap_data_key(master_key: bytes, data_key: bytes, *, vault_id: str) -> bytes:
    """Encrypt a vault's data key with the master key, bound to that vault."""
    if len(data_key) != KEY_BYTES:
        raise ValueError("a data key must be 32 bytes")
    return _seal(master_key, data_key, _encode_ad(_DATA_KEY_PREFIX, vault_id))


def unwrap_data_key(master_key: bytes, wrapped: bytes, *, vault_id: str) -> bytes:
    """Open a wrapped data key; raises DecryptionError on any failure."""
    data_key = _open(master_key, wrapped, _encode_ad(_DATA_KEY_PREFIX, vault_id))
    if len(data_key) != KEY_BYTES:
        raise DecryptionError(_OPAQUE_FAILURE)
    return data_key


def seal_field(data_key: bytes, plaintext: bytes, context: FieldContext) -> bytes:
    """Encrypt one secret field with the vault's data key."""
    return _seal(data_key, plaintext, context.associated_data())


def open_field(data_key: bytes, sealed: bytes, context: FieldContext) -> bytes:
    """Decrypt one secret field; raises DecryptionError on any failure."""
    return _open(data_key, sealed, context.associated_data())


def make_key_check(master_key: bytes) -> bytes:
    """A sealed known value to store beside the data, to recognise the right master key."""
    return _seal(master_key, _KEY_CHECK_VALUE, _encode_ad(_KEY_CHECK_PREFIX))


def verify_key_check(master_key: bytes, blob: bytes) -> None:
    """Raise VaultKeyError unless ``blob`` was made by ``make_key_check`` with this key."""
    try:
        # Only make_key_check seals under this associated data, so opening is the check.
        _open(master_key, blob, _encode_ad(_KEY_CHECK_PREFIX))
    except DecryptionError as exc:
        raise VaultKeyError(
            "The master key does not match the one this data was encrypted with.",
            hint="Restore the original master key (AUTHSOME_MASTER_KEY, "
            "AUTHSOME_MASTER_KEY_FILE or server/master.key).",
        ) from exc


def _encode_ad(*parts: str) -> bytes:
    return _HEADER + json.dumps(list(parts), separators=(",", ":")).encode("utf-8")


def _aead(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    return AESGCM(key)


def _seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    aead = _aead(key)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _HEADER + nonce + aead.encrypt(nonce, plaintext, associated_data)


def _open(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    aead = _aead(key)
    if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[0] != VERSION:
        raise DecryptionError(_OPAQUE_FAILURE)
    nonce = blob[1 : 1 + _NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[1 + _NONCE_BYTES :], associated_data)
    except InvalidTag as exc:
        raise DecryptionError(_OPAQUE_FAILURE) from exc

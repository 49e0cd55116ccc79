"""Sealing bytes with a passphrase: Argon2id to derive a key, AES-256-GCM to seal.

Used for the master key inside a backup (``authsome vault backup --include-key``).
The blob carries its own parameters so they can be raised later without
breaking old backups; they are bound in as associated data, with ``purpose``,
so a blob made for one use cannot be opened as another.

    blob = seal_with_passphrase("correct horse …", master_key, purpose="backup-key")
    assert open_with_passphrase("correct horse …", blob, purpose="backup-key") == master_key

Layout: ``version (1) || t_cost (4) || m_cost KiB (4) || parallelism (1) ||
salt (16) || nonce (12) || ciphertext+tag``.
"""

from __future__ import annotations

import secrets
import struct

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authsome.errors import DecryptionError, InvalidInput

VERSION = 0x01
# OWASP's second Argon2id profile (m=64 MiB, t=3, p=4) costs ~0.2 s here.
TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
MIN_PASSPHRASE_CHARS = 12
_SALT_BYTES = 16
_NONCE_BYTES = 12
_PARAMS = struct.Struct(">BIIB")
# Refuse to run Argon2 with absurd parameters read from an untrusted blob.
_MAX_TIME_COST = 64
_MAX_MEMORY_KIB = 1024 * 1024

_WRONG = "The passphrase is wrong or the sealed data is damaged."


def seal_with_passphrase(passphrase: str, plaintext: bytes, *, purpose: str) -> bytes:
    """Encrypt ``plaintext`` under a key derived from ``passphrase``."""
    check_passphrase(passphrase)
    params = _PARAMS.pack(VERSION, TIME_COST, MEMORY_COST_KIB, PARALLELISM)
    salt = secrets.token_bytes(_SALT_BYTES)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    header = params + salt
    key = _derive(passphrase, salt, TIME_COST, MEMORY_COST_KIB, PARALLELISM)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, _ad(header, purpose))


def open_with_passphrase(passphrase: str, blob: bytes, *, purpose: str) -> bytes:
    """Decrypt a blob from ``seal_with_passphrase``; DecryptionError on any failure."""
    header_len = _PARAMS.size + _SALT_BYTES
    if len(blob) < header_len + _NONCE_BYTES + 16:
        raise DecryptionError(_WRONG)
    version, t_cost, m_cost, parallelism = _PARAMS.unpack_from(blob)
    if (
        version != VERSION
        or not 1 <= t_cost <= _MAX_TIME_COST
        or not 8 * parallelism <= m_cost <= _MAX_MEMORY_KIB
        or parallelism < 1
    ):
        raise DecryptionError(_WRONG)
    header = blob[:header_len]
    salt = header[_PARAMS.size :]
    nonce = blob[header_len : header_len + _NONCE_BYTES]
    key = _derive(passphrase, salt, t_cost, m_cost, parallelism)
    try:
        return AESGCM(key).decrypt(nonce, blob[header_len + _NONCE_BYTES :], _ad(header, purpose))
    except InvalidTag as exc:
        raise DecryptionError(_WRONG) from exc


def check_passphrase(passphrase: str) -> None:
    """Refuse passphrases too short to protect a master key offline."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise InvalidInput(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")


def _derive(passphrase: str, salt: bytes, t_cost: int, m_cost: int, parallelism: int) -> bytes:
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=t_cost,
        memory_cost=m_cost,
        parallelism=parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _ad(header: bytes, purpose: str) -> bytes:
    return b"authsome/passphrase/v1\x00" + purpose.encode("utf-8") + b"\x00" + header

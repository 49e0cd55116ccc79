"""An agent's Ed25519 identity key, and the ways its public half is named.

An identity is known to the daemon by its JWK thumbprint (RFC 7638 ``jkt``)
and shown to people as a ``did:key``. The private key stays in a 0600 PEM file
on the client machine.

    key = IdentityKey.generate()
    key.save(layout.identity_key(handle))     # the folder must exist (ensure_private_dir)
    key.public_jwk()   # {"kty": "OKP", "crv": "Ed25519", "x": "..."}
    key.thumbprint()   # "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    key.did()          # "did:key:z6Mk..."
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from authsome.errors import AuthenticationFailed, PopInvalid
from authsome.home import write_private_file

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ED25519_MULTICODEC = b"\xed\x01"
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_KEY_BYTES = 32
_MAX_PEM_BYTES = 16 * 1024
_log = logging.getLogger("authsome.client")


def make_private(
    path: Path, mode: int, info: os.stat_result | None = None, fd: int | None = None
) -> None:
    """Give ``path`` ``mode`` if others may use it and this user owns it; else refuse.

    For identity keys and their folders (AuthenticationFailed). ``fd`` (an open
    file) is changed rather than the path, so the file checked is the file read.
    """
    info = info or path.stat()
    if not stat.S_IMODE(info.st_mode) & 0o077:
        return
    if info.st_uid != os.geteuid():
        raise AuthenticationFailed(
            f"{path} is readable by others and belongs to another user "
            f"(uid {info.st_uid}); refusing to use the identity key.",
            hint=f"chown it to yourself and chmod it {mode:o}, or make a new identity "
            "with `authsome init` in another AUTHSOME_HOME",
        )
    if fd is None:
        os.chmod(path, mode)
    else:
        os.fchmod(fd, mode)
    _log.warning("tightened the permissions of %s (it was readable by others)", path)


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(unverified: str) -> bytes:
    """Strict inverse of ``b64url_encode``: no padding, no other alphabet, canonical.

    Raises ValueError. Only the canonical spelling is accepted, so one value has
    one encoding (a thumbprint taken over ``x`` then names exactly one key).
    """
    if not _B64URL.fullmatch(unverified) or len(unverified) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(unverified + "=" * (-len(unverified) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if b64url_encode(data) != unverified:
        raise ValueError("not canonical base64url")
    return data


class IdentityKey:
    """An Ed25519 private key with its public names; ``repr`` shows only the thumbprint."""

    __slots__ = ("_jwk", "_private", "_public_raw")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self._public_raw)}

    @classmethod
    def generate(cls) -> IdentityKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> IdentityKey:
        """Build from the 32-byte private seed (RFC 8032 "secret key")."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: Path) -> IdentityKey:
        """Read a PEM PKCS#8 Ed25519 private key; AuthenticationFailed if unusable.

        A key file that others may read is made 0600 first when this user owns
        it, and refused when another user does (its folder: ``make_private``).
        """
        try:
            with path.open("rb") as handle:
                make_private(path, 0o600, os.fstat(handle.fileno()), handle.fileno())
                pem = handle.read(_MAX_PEM_BYTES + 1)
        except OSError as exc:
            raise AuthenticationFailed(
                f"Cannot read the identity key {path}: {exc.strerror}."
            ) from exc
        if len(pem) > _MAX_PEM_BYTES:
            raise AuthenticationFailed(f"The identity key {path} is too large to be a key.")
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise AuthenticationFailed(
                f"The identity key {path} is not an unencrypted PEM PKCS#8 private key."
            ) from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise AuthenticationFailed(f"The identity key {path} is not an Ed25519 key.")
        return cls(private)

    def save(self, path: Path) -> None:
        """Write as unencrypted PEM PKCS#8 with mode 0600 (the folder must exist)."""
        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private_file(path, pem)

    def public_jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    def thumbprint(self) -> str:
        return jwk_thumbprint(self._jwk)

    def did(self) -> str:
        return _did_key(self._public_raw)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"IdentityKey(jkt={self.thumbprint()!r})"


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of an OKP public key (validate it first)."""
    if jwk.get("kty") != "OKP":
        raise ValueError("only OKP keys have a thumbprint here")
    required = {"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def did_key_from_jwk(jwk: Mapping[str, str]) -> str:
    """The ``did:key`` of an Ed25519 public JWK (validate it first)."""
    raw = b64url_decode(jwk["x"])
    if len(raw) != _KEY_BYTES:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return _did_key(raw)


def public_key_from_jwk(unverified_jwk: object) -> Ed25519PublicKey:
    """Parse an untrusted public JWK; PopInvalid unless a plain Ed25519 public key."""
    if not isinstance(unverified_jwk, dict):
        raise PopInvalid("The proof key is not a JWK object.")
    if unverified_jwk.get("kty") != "OKP" or unverified_jwk.get("crv") != "Ed25519":
        raise PopInvalid("The proof key is not an Ed25519 key.")
    if "d" in unverified_jwk:
        raise PopInvalid("The proof key contains a private part.")
    x = unverified_jwk.get("x")
    try:
        if not isinstance(x, str):
            raise ValueError("x is not a string")
        raw = b64url_decode(x)
    except ValueError as exc:
        raise PopInvalid("The proof key has a malformed public value.") from exc
    if len(raw) != _KEY_BYTES:
        raise PopInvalid("The proof key has a malformed public value.")
    return Ed25519PublicKey.from_public_bytes(raw)


def _did_key(public_raw: bytes) -> str:
    return "did:key:z" + _base58btc(_ED25519_MULTICODEC + public_raw)


def _base58btc(data: bytes) -> str:
    """Bitcoin base58: the bytes as a big number in base 58, one '1' per leading zero byte."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_B58_ALPHABET[remainder])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(digits))

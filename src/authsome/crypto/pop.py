"""Proof-of-possession JWTs in the RFC 9449 DPoP format (DESIGN §3).

The client signs one proof per request; the daemon verifies it against the
request it arrived with:

    proof = sign_proof(key, method="POST", url="http://127.0.0.1:7998/v1/x", body=b"{}")
    verified = verify_proof(proof, method="POST", url=str(request.url), body=b"{}",
                            now=time.time())
    # then: verified.jti against the replay cache, verified.jkt against identities

The JWS compact form is parsed by hand so that every rule is explicit: one
algorithm family, one ``typ``, strict base64url, JSON without duplicate keys,
and the signature checked before any claim is trusted.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authsome.crypto.identity_keys import (
    IdentityKey,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    public_key_from_jwk,
)
from authsome.errors import PopExpired, PopInvalid

PROOF_TYPE = "dpop+jwt"
SIGNING_ALGORITHM = "Ed25519"
ACCEPTED_ALGORITHMS = frozenset({"Ed25519", "EdDSA"})  # RFC 9864 name, and the older one
MAX_PROOF_CHARS = 8192
MAX_CLOCK_SKEW_SECONDS = 60
_JTI_BYTES = 16  # 128 bits
_JTI_CHARS = range(16, 257)
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class VerifiedProof:
    """What a valid proof establishes; replay and identity checks are the caller's."""

    jkt: str
    jwk: dict[str, str]
    jti: str
    iat: int


def normalize_htu(url: str) -> str:
    """The URL as ``htu`` carries it: no query, fragment or userinfo; scheme and host
    lower-cased; port and path as given.

    Userinfo is dropped because it is never part of the request the daemon sees,
    and it must not carry a password into every proof.
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2].lower()
    return urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))


def body_hash(body: bytes) -> str:
    """The ``bsh`` claim: base64url SHA-256 of the exact body bytes."""
    return b64url_encode(hashlib.sha256(body).digest())


def sign_proof(
    key: IdentityKey,
    *,
    method: str,
    url: str,
    body: bytes | None = None,
    now: float | None = None,
) -> str:
    """A fresh proof for one request (``bsh`` only when there is a body)."""
    header = {"typ": PROOF_TYPE, "alg": SIGNING_ALGORITHM, "jwk": key.public_jwk()}
    claims: dict[str, str | int] = {
        "jti": b64url_encode(secrets.token_bytes(_JTI_BYTES)),
        "htm": method,
        "htu": normalize_htu(url),
        "iat": int(time.time() if now is None else now),
    }
    if body:
        claims["bsh"] = body_hash(body)
    signing_input = f"{_encode_segment(header)}.{_encode_segment(claims)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def verify_proof(
    unverified_token: str, *, method: str, url: str, body: bytes, now: float
) -> VerifiedProof:
    """Check a proof against the request it came with.

    Raises PopExpired when only the time is wrong, PopInvalid for anything else.
    """
    if len(unverified_token) > MAX_PROOF_CHARS:
        _invalid("The proof is too large.")
    segments = unverified_token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(part) for part in segments):
        _invalid("The proof is not a compact JWS.")
    unverified_header = _decode_json_segment(segments[0])
    unverified_claims = _decode_json_segment(segments[1])
    public_key, jwk = _check_header(unverified_header)
    try:
        public_key.verify(
            _decode_segment(segments[2]), f"{segments[0]}.{segments[1]}".encode("ascii")
        )
    except InvalidSignature as exc:
        raise PopInvalid("The proof signature does not verify.") from exc
    claims = unverified_claims  # signed: trusted from here on
    jti = _check_claims(claims, method=method, url=url, body=body)
    iat = _check_iat(claims.get("iat"), now)
    return VerifiedProof(jkt=jwk_thumbprint(jwk), jwk=jwk, jti=jti, iat=iat)


def _check_header(unverified_header: dict[str, Any]) -> tuple[Ed25519PublicKey, dict[str, str]]:
    """Validate the JOSE header; return the key and its JWK in canonical form."""
    if unverified_header.get("typ") != PROOF_TYPE:
        _invalid("The proof typ must be dpop+jwt.")
    if unverified_header.get("alg") not in ACCEPTED_ALGORITHMS:
        _invalid("The proof alg must be Ed25519 or EdDSA.")
    if "crit" in unverified_header:
        _invalid("The proof has critical header extensions.")
    public_key = public_key_from_jwk(unverified_header.get("jwk"))
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key.public_bytes_raw())}
    return public_key, jwk


def _check_claims(claims: dict[str, Any], *, method: str, url: str, body: bytes) -> str:
    """Check everything but ``iat`` on signed claims; return the ``jti``."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or len(jti) not in _JTI_CHARS:
        _invalid("The proof jti must be a string of 16 to 256 characters.")
    if claims.get("htm") != method:
        _invalid("The proof htm does not match the request method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or _normalize_unverified_htu(htu) != normalize_htu(url):
        _invalid("The proof htu does not match the request URL.")
    if (body or "bsh" in claims) and claims.get("bsh") != body_hash(body):
        _invalid("The proof bsh does not match the request body.")
    return jti


def _check_iat(iat: object, now: float) -> int:
    # bool is a subclass of int, and a float or string iat is refused outright.
    if type(iat) is not int:
        _invalid("The proof iat must be an integer.")
    if abs(now - iat) > MAX_CLOCK_SKEW_SECONDS:
        raise PopExpired("The proof iat is outside the accepted clock window.")
    return iat


def _normalize_unverified_htu(unverified_htu: str) -> str | None:
    try:
        return normalize_htu(unverified_htu)
    except ValueError:
        return None


def _encode_segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _decode_segment(segment: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError as exc:
        raise PopInvalid("The proof is not valid base64url.") from exc


def _decode_json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(
            _decode_segment(segment).decode("utf-8"),
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise PopInvalid("The proof header or claims are not valid JSON.") from exc
    if not isinstance(value, dict):
        _invalid("The proof header or claims are not JSON objects.")
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate key")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _invalid(reason: str) -> NoReturn:
    raise PopInvalid(reason)

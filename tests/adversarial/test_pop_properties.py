"""Mutated proofs of possession (hypothesis): always 401, never a 5xx, never a credential."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authsome.crypto.identity_keys import IdentityKey, b64url_encode
from authsome.crypto.pop import normalize_htu
from tests.adversarial.conftest import Target

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _segment(value: dict[str, Any] | str) -> str:
    raw = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url_encode(raw.encode())


def _parts(key: IdentityKey, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": key.public_jwk()}
    claims = {
        "jti": b64url_encode(secrets.token_bytes(16)),
        "htm": "GET",
        "htu": normalize_htu(url),
        "iat": int(time.time()),
    }
    return header, claims


def _sign(key: IdentityKey, header: str, claims: str) -> str:
    signing_input = f"{header}.{claims}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


def _send(target: Target, proof: str) -> httpx.Response:
    url = target.daemon.url + "/connections"
    return httpx.get(url, headers={"DPoP": proof}, timeout=10)


def _assert_refused(target: Target, proof: str) -> None:
    response = _send(target, proof)
    assert response.status_code == 401, (response.status_code, response.text[:200])
    body = response.json()
    assert set(body) <= {"error", "message", "hint"}
    assert body["error"].startswith(("pop_", "identity_"))
    assert target.api_key not in response.text


HEADER_CHANGES = st.sampled_from(
    [
        ("typ", "jwt"),
        ("typ", None),
        ("alg", "none"),
        ("alg", "HS256"),
        ("alg", "RS256"),
        ("alg", "ed25519"),
        ("alg", None),
        ("jwk", None),
        ("jwk", {"kty": "OKP", "crv": "Ed448", "x": "AAAA"}),
        ("jwk", {"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        ("jwk", "not an object"),
        ("crit", ["exp"]),
    ]
)
CLAIM_CHANGES = st.sampled_from(
    [
        ("htm", "POST"),
        ("htm", "get"),
        ("htu", "http://127.0.0.1:1/connections"),
        ("htu", "http://evil.test/connections"),
        ("iat", 0),
        ("iat", 4102444800),
        ("iat", "now"),
        ("iat", 1.5),
        ("iat", True),
        ("jti", "short"),
        ("jti", 12345),
        ("jti", None),
        ("htm", None),
        ("bsh", "AAAA"),
    ]
)


@SETTINGS
@given(change=HEADER_CHANGES)
def test_header_mutations_are_refused(target: Target, change: tuple[str, Any]) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    name, value = change
    if value is None:
        header.pop(name, None)
    else:
        header[name] = value
    _assert_refused(target, _sign(target.key, _segment(header), _segment(claims)))


@SETTINGS
@given(change=CLAIM_CHANGES, signed=st.booleans())
def test_claim_mutations_are_refused(target: Target, change: tuple[str, Any], signed: bool) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    name, value = change
    if value is None:
        claims.pop(name, None)
    else:
        claims[name] = value
    if signed:  # correctly signed bad claims, or good-looking claims under an old signature
        proof = _sign(target.key, _segment(header), _segment(claims))
    else:
        good_header, good_claims = _parts(target.key, target.daemon.url + "/connections")
        original = _sign(target.key, _segment(good_header), _segment(good_claims))
        proof = f"{_segment(header)}.{_segment(claims)}.{original.rsplit('.', 1)[1]}"
    _assert_refused(target, proof)


@SETTINGS
@given(index=st.integers(min_value=0, max_value=63), bit=st.integers(min_value=0, max_value=7))
def test_flipped_signature_bits_are_refused(target: Target, index: int, bit: int) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    proof = _sign(target.key, _segment(header), _segment(claims))
    head, body, signature = proof.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[index] ^= 1 << bit
    _assert_refused(target, f"{head}.{body}.{b64url_encode(bytes(raw))}")


@SETTINGS
@given(
    mangle=st.sampled_from(
        ["pad", "space", "plus", "four", "two", "empty-sig", "star", "unicode", "upper", "dots"]
    )
)
def test_encoding_mutations_are_refused(target: Target, mangle: str) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    proof = _sign(target.key, _segment(header), _segment(claims))
    head, body, signature = proof.split(".")
    proof = {
        "pad": f"{head}=.{body}.{signature}",
        "space": f"{head} .{body}.{signature}",
        "plus": f"{head}.{body}.{signature.replace('-', '+').replace('_', '/')}+/",
        "four": f"{proof}.{signature}",
        "two": f"{head}.{body}",
        "empty-sig": f"{head}.{body}.",
        "star": f"{head}.{body}.*{signature[1:]}",
        "unicode": f"{head}.{body}.{signature[:-1]}é",
        "upper": f"{head}.{body.upper()}.{signature}",
        "dots": "....",
    }[mangle]
    # httpx refuses to send a non-latin-1 header: then nothing reaches the daemon.
    with contextlib.suppress(UnicodeEncodeError):
        _assert_refused(target, proof)


def test_alg_none_and_hmac_with_the_public_key_are_refused(target: Target) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    _assert_refused(target, f"{_segment(dict(header, alg='none'))}.{_segment(claims)}.")
    for secret in (
        base64.urlsafe_b64decode(target.key.public_jwk()["x"] + "=="),
        target.key.public_jwk()["x"].encode(),
        json.dumps(target.key.public_jwk()).encode(),
    ):
        hs_header = dict(header, alg="HS256")
        signing_input = f"{_segment(hs_header)}.{_segment(claims)}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        _assert_refused(target, f"{signing_input}.{b64url_encode(mac)}")


@SETTINGS
@given(size=st.integers(min_value=8_000, max_value=12_000))
def test_oversize_proofs_are_refused(target: Target, size: int) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    claims["padding"] = "x" * size
    _assert_refused(target, _sign(target.key, _segment(header), _segment(claims)))


def test_a_proof_larger_than_the_header_limit_is_refused_without_a_5xx(target: Target) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    claims["padding"] = "x" * 200_000
    try:  # h11 refuses a head this large: a 4xx, or the connection is dropped
        response = _send(target, _sign(target.key, _segment(header), _segment(claims)))
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        pass
    else:
        assert 400 <= response.status_code < 500
    assert httpx.get(target.daemon.url + "/health", timeout=5).status_code == 200


@SETTINGS
@given(
    duplicate=st.sampled_from(
        [
            ('"alg":"Ed25519"', '"alg":"Ed25519","alg":"none"'),
            ('"typ":"dpop+jwt"', '"typ":"dpop+jwt","typ":"jwt"'),
        ]
    ),
    in_claims=st.booleans(),
)
def test_duplicated_json_keys_are_refused_even_when_signed(
    target: Target, duplicate: tuple[str, str], in_claims: bool
) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    header_json = json.dumps(header, separators=(",", ":"))
    claims_json = json.dumps(claims, separators=(",", ":"))
    if in_claims:
        claims_json = claims_json.replace('"htm":"GET"', '"htm":"GET","htm":"GET"')
    else:
        header_json = header_json.replace(*duplicate)
    _assert_refused(target, _sign(target.key, _segment(header_json), _segment(claims_json)))


def test_a_valid_proof_is_accepted_once_then_replay_refused(target: Target) -> None:
    header, claims = _parts(target.key, target.daemon.url + "/connections")
    proof = _sign(target.key, _segment(header), _segment(claims))
    assert _send(target, proof).status_code == 200
    _assert_refused(target, proof)


def test_a_foreign_key_gets_nothing(target: Target) -> None:
    stranger = IdentityKey.generate()
    header, claims = _parts(stranger, target.daemon.url + "/connections")
    _assert_refused(target, _sign(stranger, _segment(header), _segment(claims)))

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authsome.crypto.identity_keys import (
    IdentityKey,
    _base58btc,
    b64url_decode,
    b64url_encode,
    did_key_from_jwk,
    jwk_thumbprint,
    public_key_from_jwk,
)
from authsome.errors import AuthenticationFailed, PopInvalid

# RFC 8032 §7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
# RFC 8037 Appendix A.1-A.3: the same key as a JWK, and its thumbprint.
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
# RFC 8037 Appendix A.4: a JWS signed with that key.
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


@pytest.fixture
def rfc_key() -> IdentityKey:
    return IdentityKey.from_private_bytes(RFC8032_SECRET)


def test_rfc8032_test_1_signature(rfc_key: IdentityKey) -> None:
    assert rfc_key.sign(b"") == RFC8032_SIGNATURE


def test_rfc8037_public_jwk(rfc_key: IdentityKey) -> None:
    assert rfc_key.public_jwk() == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}
    assert b64url_decode(RFC8037_X) == RFC8032_PUBLIC


def test_rfc8037_thumbprint(rfc_key: IdentityKey) -> None:
    assert rfc_key.thumbprint() == RFC8037_KID
    assert jwk_thumbprint({"x": RFC8037_X, "kty": "OKP", "crv": "Ed25519"}) == RFC8037_KID


def test_thumbprint_ignores_optional_members() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "other", "use": "sig"}
    assert jwk_thumbprint(jwk) == RFC8037_KID


def test_thumbprint_refuses_other_key_types() -> None:
    with pytest.raises(ValueError, match="OKP"):
        jwk_thumbprint({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"})


def test_rfc8037_jws_signature(rfc_key: IdentityKey) -> None:
    signing_input, _, signature = RFC8037_JWS.rpartition(".")
    assert b64url_encode(rfc_key.sign(signing_input.encode())) == signature


def test_public_jwk_is_a_copy(rfc_key: IdentityKey) -> None:
    rfc_key.public_jwk()["x"] = "changed"
    assert rfc_key.public_jwk()["x"] == RFC8037_X


def test_base58btc_known_answers() -> None:
    assert _base58btc(b"") == ""
    assert _base58btc(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert _base58btc(b"\x00\x00\x28\x7f\xb4\xcd") == "11233QC4"
    assert (
        _base58btc(b"The quick brown fox jumps over the lazy dog.")
        == "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
    )


def _base58_decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for char in text:
        number = number * 58 + alphabet.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def test_did_key(rfc_key: IdentityKey) -> None:
    did = rfc_key.did()
    assert did.startswith("did:key:z6Mk")
    assert _base58_decode(did.removeprefix("did:key:z")) == b"\xed\x01" + RFC8032_PUBLIC
    assert did_key_from_jwk(rfc_key.public_jwk()) == did


def test_did_key_from_jwk_checks_the_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        did_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * 31)})


def test_generated_keys_differ_and_sign() -> None:
    first, second = IdentityKey.generate(), IdentityKey.generate()
    assert first.thumbprint() != second.thumbprint()
    public_key_from_jwk(first.public_jwk()).verify(first.sign(b"data"), b"data")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    path = tmp_path / "brisk-amber-otter.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = IdentityKey.load(path)
    assert loaded.public_jwk() == key.public_jwk()
    assert loaded.sign(b"x") == key.sign(b"x")


def test_repr_shows_only_the_thumbprint(rfc_key: IdentityKey) -> None:
    assert repr(rfc_key) == f"IdentityKey(jkt={RFC8037_KID!r})"


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AuthenticationFailed, match="Cannot read"):
        IdentityKey.load(tmp_path / "missing.key")


def test_load_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.key"
    path.write_bytes(b"not a key")
    with pytest.raises(AuthenticationFailed, match="not an unencrypted PEM"):
        IdentityKey.load(path)


def test_load_encrypted_pem(tmp_path: Path) -> None:
    path = tmp_path / "encrypted.key"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(AuthenticationFailed, match="not an unencrypted PEM"):
        IdentityKey.load(path)


def test_load_other_key_type(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(AuthenticationFailed, match="not an Ed25519 key"):
        IdentityKey.load(path)


def test_public_key_from_jwk_accepts_extra_public_members(rfc_key: IdentityKey) -> None:
    jwk = {**rfc_key.public_jwk(), "alg": "Ed25519", "kid": "x"}
    public_key_from_jwk(jwk).verify(RFC8032_SIGNATURE, b"")


@pytest.mark.parametrize(
    "jwk",
    [
        None,
        "a string",
        [RFC8037_X],
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "EC", "crv": "Ed25519", "x": RFC8037_X},
        {"kty": "okp", "crv": "Ed25519", "x": RFC8037_X},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed448", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed25519", "x": 12},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X + "="},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X.replace("_", "/")},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-1] + "p"},  # non-canonical tail bits
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * 31)},
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * 33)},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7"},
    ],
)
def test_public_key_from_jwk_is_strict(jwk: object) -> None:
    with pytest.raises(PopInvalid):
        public_key_from_jwk(jwk)


@pytest.mark.parametrize("text", ["a", "ab=", "a+b", "a/b", "a b", "ab\n", "QQ==", "QR"])
def test_b64url_decode_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


def test_b64url_round_trip() -> None:
    for length in range(40):
        data = bytes(range(256 - length, 256))
        assert b64url_decode(b64url_encode(data)) == data

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from authsome.crypto.identity_keys import IdentityKey, b64url_decode, b64url_encode
from authsome.crypto.pop import (
    MAX_PROOF_CHARS,
    VerifiedProof,
    body_hash,
    normalize_htu,
    sign_proof,
    verify_proof,
)
from authsome.errors import PopExpired, PopInvalid

NOW = 1_700_000_000.0
URL = "http://127.0.0.1:7998/v1/connections"
BODY = b'{"provider":"github"}'
KEY = IdentityKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = IdentityKey.from_private_bytes(bytes(range(1, 33)))


def segment(value: Any) -> str:
    """JSON-encode a value, or take str/bytes as the exact JSON text."""
    if isinstance(value, bytes):
        return b64url_encode(value)
    return b64url_encode((value if isinstance(value, str) else json.dumps(value)).encode())


def header(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": KEY.public_jwk()}
    value.update(changes)
    return {name: item for name, item in value.items() if item is not None}


def claims(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"jti": "a" * 22, "htm": "GET", "htu": URL, "iat": int(NOW)}
    value.update(changes)
    return {name: item for name, item in value.items() if item is not None}


def forge(head: Any = None, body: Any = None, signer: IdentityKey = KEY) -> str:
    """A token with exactly the given header and claims, validly signed by ``signer``."""
    signing_input = f"{segment(header() if head is None else head)}."
    signing_input += segment(claims() if body is None else body)
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode()))}"


def verify(token: str, *, method: str = "GET", url: str = URL, body: bytes = b"") -> VerifiedProof:
    return verify_proof(token, method=method, url=url, body=body, now=NOW)


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, payload, _ = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(payload))


# signing


def test_sign_proof_has_the_dpop_shape() -> None:
    head, payload = decode(sign_proof(KEY, method="GET", url=URL, now=NOW + 0.9))
    assert head == {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": KEY.public_jwk()}
    assert set(payload) == {"jti", "htm", "htu", "iat"}
    assert payload["htm"] == "GET"
    assert payload["htu"] == URL
    assert payload["iat"] == int(NOW)
    assert len(b64url_decode(payload["jti"])) * 8 >= 96


def test_sign_proof_uses_the_clock_by_default() -> None:
    _, payload = decode(sign_proof(KEY, method="GET", url=URL))
    assert abs(payload["iat"] - time.time()) < 5


def test_sign_proof_normalizes_htu() -> None:
    token = sign_proof(KEY, method="GET", url="HTTP://LocalHost:7998/A/b?q=1#frag", now=NOW)
    assert decode(token)[1]["htu"] == "http://localhost:7998/A/b"


@pytest.mark.parametrize("body", [None, b""])
def test_no_bsh_without_a_body(body: bytes | None) -> None:
    token = sign_proof(KEY, method="POST", url=URL, body=body, now=NOW)
    assert "bsh" not in decode(token)[1]


def test_bsh_with_a_body() -> None:
    token = sign_proof(KEY, method="POST", url=URL, body=BODY, now=NOW)
    assert decode(token)[1]["bsh"] == body_hash(BODY)


def test_jti_is_fresh_each_time() -> None:
    jtis = {decode(sign_proof(KEY, method="GET", url=URL))[1]["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_body_hash_known_answer() -> None:
    assert body_hash(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:7998/v1/x", "http://127.0.0.1:7998/v1/x"),
        ("HTTPS://Example.COM/Path/To?q=1#f", "https://example.com/Path/To"),
        ("http://example.com:8080/a%2Fb?x", "http://example.com:8080/a%2Fb"),
        ("http://example.com", "http://example.com"),
        ("http://example.com/", "http://example.com/"),
        ("http://user:pw@Example.com/x", "http://example.com/x"),
        ("http://[::1]:7998/x#y", "http://[::1]:7998/x"),
    ],
)
def test_normalize_htu(url: str, expected: str) -> None:
    assert normalize_htu(url) == expected


# verifying: accepted


def test_valid_proof_passes() -> None:
    token = sign_proof(KEY, method="GET", url=URL, now=NOW)
    verified = verify(token)
    assert verified == VerifiedProof(
        jkt=KEY.thumbprint(), jwk=KEY.public_jwk(), jti=decode(token)[1]["jti"], iat=int(NOW)
    )


def test_valid_proof_with_body_passes() -> None:
    token = sign_proof(KEY, method="POST", url=URL, body=BODY, now=NOW)
    assert verify(token, method="POST", body=BODY).jkt == KEY.thumbprint()


def test_server_url_is_normalized_too() -> None:
    token = sign_proof(KEY, method="GET", url=URL, now=NOW)
    verify(token, url="HTTP://127.0.0.1:7998/v1/connections?page=2#top")


def test_proof_htu_is_normalized_too() -> None:
    verify(forge(body=claims(htu="HTTP://127.0.0.1:7998/v1/connections?page=2")))


def test_eddsa_alg_is_accepted() -> None:
    verify(forge(head=header(alg="EdDSA")))


def test_extra_jwk_members_are_dropped_from_the_result() -> None:
    jwk = {**KEY.public_jwk(), "kid": "mine", "alg": "Ed25519"}
    verified = verify(forge(head=header(jwk=jwk)))
    assert verified.jwk == KEY.public_jwk()
    assert verified.jkt == KEY.thumbprint()


@pytest.mark.parametrize("skew", [-60, 0, 60])
def test_iat_within_60_seconds_passes(skew: int) -> None:
    verify(forge(body=claims(iat=int(NOW) + skew)))


@pytest.mark.parametrize("length", [16, 256])
def test_jti_length_bounds_pass(length: int) -> None:
    verify(forge(body=claims(jti="j" * length)))


def test_empty_body_may_carry_the_hash_of_nothing() -> None:
    verify(forge(body=claims(bsh=body_hash(b""))))


def test_a_large_but_allowed_proof_passes() -> None:
    token = forge(body=claims(pad="p" * 5800))
    assert 7000 < len(token) <= MAX_PROOF_CHARS
    verify(token)


# verifying: refused


def test_alg_none_is_refused() -> None:
    head = segment(header(alg="none"))
    payload = segment(claims())
    with pytest.raises(PopInvalid):
        verify(f"{head}.{payload}.")
    with pytest.raises(PopInvalid, match="alg"):
        verify(forge(head=header(alg="none")))


@pytest.mark.parametrize(
    "secret",
    [b64url_decode(KEY.public_jwk()["x"]), KEY.public_jwk()["x"].encode()],
)
def test_hs256_with_the_public_key_as_secret_is_refused(secret: bytes) -> None:
    signing_input = f"{segment(header(alg='HS256'))}.{segment(claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(PopInvalid, match="alg"):
        verify(f"{signing_input}.{b64url_encode(mac)}")


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "PS256", "ed25519", "EDDSA", None, 1])
def test_other_algs_are_refused(alg: object) -> None:
    with pytest.raises(PopInvalid, match="alg"):
        verify(forge(head=header(alg=alg)))


@pytest.mark.parametrize("typ", ["DPoP+JWT", "dpop+JWT", "jwt", "JWT", "dpop+jwt ", None, 1])
def test_wrong_typ_is_refused(typ: object) -> None:
    with pytest.raises(PopInvalid, match="typ"):
        verify(forge(head=header(typ=typ)))


def test_jwk_with_private_part_is_refused() -> None:
    jwk = {**KEY.public_jwk(), "d": b64url_encode(bytes(range(32)))}
    with pytest.raises(PopInvalid, match="private"):
        verify(forge(head=header(jwk=jwk)))


@pytest.mark.parametrize("jwk", [None, "key", {"kty": "RSA", "n": "x", "e": "AQAB"}])
def test_missing_or_foreign_jwk_is_refused(jwk: object) -> None:
    with pytest.raises(PopInvalid):
        verify(forge(head=header(jwk=jwk)))


def test_signature_by_another_key_is_refused() -> None:
    with pytest.raises(PopInvalid, match="signature"):
        verify(forge(signer=OTHER_KEY))


def test_critical_extensions_are_refused() -> None:
    with pytest.raises(PopInvalid, match="critical"):
        verify(forge(head=header(crit=["exp"], exp=1)))


@pytest.mark.parametrize("htm", ["POST", "get", "GET ", None, ["GET"]])
def test_wrong_htm_is_refused(htm: object) -> None:
    with pytest.raises(PopInvalid, match="htm"):
        verify(forge(body=claims(htm=htm)))


@pytest.mark.parametrize(
    "htu",
    [
        "http://127.0.0.1:7998/v1/connections/",
        "http://127.0.0.1:7998/v1/Connections",
        "http://127.0.0.1:7999/v1/connections",
        "https://127.0.0.1:7998/v1/connections",
        "http://localhost:7998/v1/connections",
        "/v1/connections",
        "http://[::1/v1/connections",
        None,
        12,
    ],
)
def test_wrong_htu_is_refused(htu: object) -> None:
    with pytest.raises(PopInvalid, match="htu"):
        verify(forge(body=claims(htu=htu)))


@pytest.mark.parametrize("skew", [-61, 61, -3600, 10**6])
def test_stale_or_future_iat_is_expired(skew: int) -> None:
    with pytest.raises(PopExpired):
        verify(forge(body=claims(iat=int(NOW) + skew)))


@pytest.mark.parametrize("iat", [NOW, True, str(int(NOW)), None, [int(NOW)]])
def test_iat_that_is_not_an_integer_is_refused(iat: object) -> None:
    with pytest.raises(PopInvalid, match="iat"):
        verify(forge(body=claims(iat=iat)))


def test_bad_bsh_is_refused() -> None:
    token = sign_proof(KEY, method="POST", url=URL, body=BODY, now=NOW)
    with pytest.raises(PopInvalid, match="bsh"):
        verify(token, method="POST", body=BODY + b" ")


def test_missing_bsh_with_body_is_refused() -> None:
    token = sign_proof(KEY, method="POST", url=URL, now=NOW)
    with pytest.raises(PopInvalid, match="bsh"):
        verify(token, method="POST", body=BODY)


@pytest.mark.parametrize("bsh", [body_hash(BODY), "", 0, None])
def test_empty_body_with_another_bsh_is_refused(bsh: object) -> None:
    token = forge(body={**claims(), "bsh": bsh})
    with pytest.raises(PopInvalid, match="bsh"):
        verify(token)


def test_non_string_bsh_is_refused() -> None:
    with pytest.raises(PopInvalid, match="bsh"):
        verify(forge(body=claims(bsh=[body_hash(BODY)])), body=BODY)


@pytest.mark.parametrize("jti", [None, "a" * 15, "a" * 257, "", 12345678901234567890, ["a" * 22]])
def test_bad_jti_is_refused(jti: object) -> None:
    with pytest.raises(PopInvalid, match="jti"):
        verify(forge(body=claims(jti=jti)))


def test_duplicate_keys_in_header_are_refused() -> None:
    text = json.dumps(header())[:-1] + ', "typ": "dpop+jwt"}'
    with pytest.raises(PopInvalid, match="JSON"):
        verify(forge(head=text))


def test_duplicate_keys_in_claims_are_refused() -> None:
    text = json.dumps(claims())[:-1] + ', "htu": "http://elsewhere/"}'
    with pytest.raises(PopInvalid, match="JSON"):
        verify(forge(body=text))


def test_duplicate_keys_in_jwk_are_refused() -> None:
    jwk_text = json.dumps(KEY.public_jwk())[:-1] + f', "x": "{OTHER_KEY.public_jwk()["x"]}"}}'
    text = '{"typ": "dpop+jwt", "alg": "Ed25519", "jwk": ' + jwk_text + "}"
    with pytest.raises(PopInvalid, match="JSON"):
        verify(forge(head=text))


@pytest.mark.parametrize(
    "text",
    ['["typ", "dpop+jwt"]', '"dpop+jwt"', "null", "{", '{"typ": NaN}', b"\xff{}", "[" * 5000],
)
def test_header_that_is_not_a_json_object_is_refused(text: str | bytes) -> None:
    with pytest.raises(PopInvalid, match="JSON"):
        verify(forge(head=text))


def test_claims_with_infinity_are_refused() -> None:
    text = json.dumps(claims())[:-1] + ', "exp": Infinity}'
    with pytest.raises(PopInvalid, match="JSON"):
        verify(forge(body=text))


def test_oversize_proof_is_refused_before_parsing() -> None:
    with pytest.raises(PopInvalid, match="too large"):
        verify(forge(body=claims(pad="p" * 6200)))
    with pytest.raises(PopInvalid, match="too large"):
        verify("!" * (MAX_PROOF_CHARS + 1))


def _valid() -> str:
    return sign_proof(KEY, method="GET", url=URL, now=NOW)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token + "=",
        lambda token: token.replace(".", "=.", 1),
        lambda token: token.replace(".", ".+", 1),
        lambda token: token.replace(".", "./", 1),
        lambda token: token.rsplit(".", 1)[0],
        lambda token: token + ".AAAA",
        lambda token: "." + token,
        lambda token: token.replace(".", "..", 1),
        lambda token: token.replace(".", " .", 1),
        lambda token: "é" + token,
        lambda token: "",
        lambda token: "...",
    ],
)
def test_malformed_compact_form_is_refused(mangle: Any) -> None:
    with pytest.raises(PopInvalid):
        verify(mangle(_valid()))


def test_non_canonical_base64_in_signature_is_refused() -> None:
    token = _valid()
    signature = token.rsplit(".", 1)[1]
    assert signature[-1] in "AQgw"  # 64 bytes leave four unused bits
    tweaked = signature[:-1] + chr(ord(signature[-1]) + 1)
    with pytest.raises(PopInvalid, match="base64url"):
        verify(token[: -len(signature)] + tweaked)


@pytest.mark.parametrize("index", [0, 31, 63])
def test_flipped_signature_byte_is_refused(index: int) -> None:
    head, payload, signature = _valid().split(".")
    raw = bytearray(b64url_decode(signature))
    raw[index] ^= 0x01
    with pytest.raises(PopInvalid, match="signature"):
        verify(f"{head}.{payload}.{b64url_encode(bytes(raw))}")


def test_truncated_signature_is_refused() -> None:
    head, payload, signature = _valid().split(".")
    short = b64url_encode(b64url_decode(signature)[:63])
    with pytest.raises(PopInvalid, match="signature"):
        verify(f"{head}.{payload}.{short}")


def test_claims_swapped_after_signing_are_refused() -> None:
    head, _, signature = _valid().split(".")
    with pytest.raises(PopInvalid, match="signature"):
        verify(f"{head}.{segment(claims(htu=URL + '/admin'))}.{signature}")


def test_signature_is_checked_before_time() -> None:
    stale = claims(iat=int(NOW) - 3600)
    head = segment(header())
    signature = b64url_encode(KEY.sign(b"something else"))
    with pytest.raises(PopInvalid, match="signature"):
        verify(f"{head}.{segment(stale)}.{signature}")


def test_errors_do_not_echo_the_proof() -> None:
    secretish = "unique-jti-value-1234567890"
    cases = [
        forge(body=claims(jti=secretish, htm="PUT")),
        forge(body=claims(jti=secretish, iat=0)),
        forge(body=claims(jti=secretish), signer=OTHER_KEY),
    ]
    for token in cases:
        with pytest.raises((PopInvalid, PopExpired)) as caught:
            verify(token)
        assert secretish not in str(caught.value)
        assert KEY.public_jwk()["x"] not in str(caught.value)


# interoperability with an independent DPoP implementation (panva/dpop on Node)

REPO = Path(__file__).resolve().parents[3]
NODE = shutil.which("node")
DPOP_INSTALLED = (REPO / "node_modules" / "dpop" / "package.json").is_file()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.skipif(not DPOP_INSTALLED, reason="node_modules/dpop missing: run `npm install`")
@pytest.mark.parametrize(
    ("method", "body"), [("GET", b""), ("POST", b'{"name":"default","scopes":["repo"]}')]
)
def test_proof_from_the_dpop_library_is_accepted(method: str, body: bytes) -> None:
    url = "http://127.0.0.1:7998/v1/connections?provider=github"
    args = [str(NODE), str(REPO / "tests" / "node" / "make_dpop_proof.mjs"), url, method]
    if body:
        args.append(body.decode())
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    made = json.loads(result.stdout)
    assert made["htm"] == method
    assert made["htu"] == "http://127.0.0.1:7998/v1/connections"
    verified = verify_proof(made["proof"], method=method, url=url, body=body, now=time.time())
    assert verified.jkt == made["jkt"]
    with pytest.raises(PopInvalid):
        verify_proof(made["proof"], method=method, url=url, body=body + b"!", now=time.time())

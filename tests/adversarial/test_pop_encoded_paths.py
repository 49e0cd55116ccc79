"""``htu`` binds the path as the client sent it, percent-encoding included (RFC 9449 §4.3).

A client signs the URL it sends; an HTTP library percent-encodes a space or
a non-ASCII character in a path parameter. Such a proof must verify (the
route then answers about the name itself), and a proof made for the decoded
form must not verify for the encoded one.
"""

from __future__ import annotations

import httpx
import pytest

from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import Target

ENCODED_PATHS = [
    b"/providers/no%20such%20provider",
    b"/providers/caf%C3%A9",
    b"/connections/openai/d%D0%B5fault",
    b"/connections/openai/%2e%2e",
]


def _get(target: Target, raw_path: bytes, signed_url: str) -> httpx.Response:
    url = httpx.URL(target.daemon.url).copy_with(raw_path=raw_path)
    proof = sign_proof(target.key, method="GET", url=signed_url)
    return httpx.get(url, headers={"DPoP": proof}, timeout=10)


@pytest.mark.parametrize("raw_path", ENCODED_PATHS)
def test_a_proof_for_an_encoded_path_is_accepted(target: Target, raw_path: bytes) -> None:
    sent = str(httpx.URL(target.daemon.url).copy_with(raw_path=raw_path))
    answer = _get(target, raw_path, sent)
    assert answer.status_code in (400, 404, 422), (raw_path, answer.status_code, answer.text)
    assert not answer.json()["error"].startswith(("pop_", "identity_")), answer.text


def test_a_proof_for_the_decoded_path_does_not_cover_the_encoded_one(target: Target) -> None:
    url = target.daemon.url
    answer = _get(target, b"/providers/caf%C3%A9", url + "/providers/café")
    assert answer.status_code == 401 and answer.json()["error"] == "pop_invalid", answer.text
    plain = _get(target, b"/providers/openai", url + "/providers/openai")
    assert plain.status_code == 200, plain.text

from __future__ import annotations

import pytest

from authsome.crypto.passphrase import open_with_passphrase, seal_with_passphrase
from authsome.errors import DecryptionError, InvalidInput

PASS = "a long enough passphrase"
SECRET = bytes(range(32))


def test_round_trip_and_fresh_salt_each_time() -> None:
    first = seal_with_passphrase(PASS, SECRET, purpose="p")
    second = seal_with_passphrase(PASS, SECRET, purpose="p")
    assert first != second
    assert SECRET not in first
    assert open_with_passphrase(PASS, first, purpose="p") == SECRET


@pytest.mark.parametrize(
    ("passphrase", "purpose"), [("a long enough passphrasE", "p"), (PASS, "other purpose")]
)
def test_wrong_passphrase_or_purpose_fails_opaquely(passphrase: str, purpose: str) -> None:
    blob = seal_with_passphrase(PASS, SECRET, purpose="p")
    with pytest.raises(DecryptionError):
        open_with_passphrase(passphrase, blob, purpose=purpose)


@pytest.mark.parametrize("index", [0, 2, 9, 20, 40, -1])
def test_any_flipped_byte_fails(index: int) -> None:
    blob = bytearray(seal_with_passphrase(PASS, SECRET, purpose="p"))
    blob[index] ^= 0x01
    with pytest.raises(DecryptionError):
        open_with_passphrase(PASS, bytes(blob), purpose="p")


def test_absurd_parameters_are_refused_before_any_work() -> None:
    blob = bytearray(seal_with_passphrase(PASS, SECRET, purpose="p"))
    blob[5:9] = (2**31).to_bytes(4, "big")  # memory cost
    with pytest.raises(DecryptionError):
        open_with_passphrase(PASS, bytes(blob), purpose="p")


def test_short_passphrases_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 12"):
        seal_with_passphrase("short", SECRET, purpose="p")

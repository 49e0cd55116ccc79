from __future__ import annotations

import dataclasses

import pytest
from cryptography.exceptions import InvalidTag

from authsome.crypto.envelope import (
    FieldContext,
    make_key_check,
    new_data_key,
    open_field,
    seal_field,
    unwrap_data_key,
    verify_key_check,
    wrap_data_key,
)
from authsome.errors import DecryptionError, VaultKeyError

CONTEXT = FieldContext(
    vault_id="vault-1", provider="github", connection="default", field="access_token"
)
SECRET = b"gho_s3cr3t-value"


def test_new_data_key_is_32_random_bytes() -> None:
    keys = {new_data_key() for _ in range(8)}
    assert len(keys) == 8
    assert all(len(key) == 32 for key in keys)


def test_seal_open_round_trip() -> None:
    key = new_data_key()
    sealed = seal_field(key, SECRET, CONTEXT)
    assert sealed[0] == 0x01
    assert SECRET not in sealed
    assert open_field(key, sealed, CONTEXT) == SECRET


def test_empty_plaintext_round_trips() -> None:
    key = new_data_key()
    assert open_field(key, seal_field(key, b"", CONTEXT), CONTEXT) == b""


def test_each_seal_uses_a_fresh_nonce() -> None:
    key = new_data_key()
    first, second = seal_field(key, SECRET, CONTEXT), seal_field(key, SECRET, CONTEXT)
    assert first[1:13] != second[1:13]
    assert first != second


@pytest.mark.parametrize("name", ["vault_id", "provider", "connection", "field"])
def test_ciphertext_moved_to_another_record_fails(name: str) -> None:
    key = new_data_key()
    sealed = seal_field(key, SECRET, CONTEXT)
    moved = dataclasses.replace(CONTEXT, **{name: "other"})
    with pytest.raises(DecryptionError):
        open_field(key, sealed, moved)


def test_associated_data_is_unambiguous() -> None:
    split_one = FieldContext(vault_id="a-b", provider="c", connection="d", field="e")
    split_two = FieldContext(vault_id="a", provider="b-c", connection="d", field="e")
    quoted = FieldContext(vault_id='a","b', provider="c", connection="d", field="e")
    quoted_other = FieldContext(vault_id="a", provider='b","c', connection="d", field="e")
    encodings = {ctx.associated_data() for ctx in (split_one, split_two, quoted, quoted_other)}
    assert len(encodings) == 4


def test_every_tampered_byte_fails() -> None:
    key = new_data_key()
    sealed = seal_field(key, SECRET, CONTEXT)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError):
            open_field(key, bytes(tampered), CONTEXT)


def test_tag_failure_is_chained_and_opaque() -> None:
    key = new_data_key()
    sealed = bytearray(seal_field(key, SECRET, CONTEXT))
    sealed[-1] ^= 0xFF
    with pytest.raises(DecryptionError) as caught:
        open_field(key, bytes(sealed), CONTEXT)
    assert isinstance(caught.value.__cause__, InvalidTag)
    with pytest.raises(DecryptionError) as other:
        open_field(key, b"\x02" + bytes(sealed[1:]), CONTEXT)
    assert caught.value.message == other.value.message


@pytest.mark.parametrize("version", [0x00, 0x02, 0xFF])
def test_unknown_version_fails(version: int) -> None:
    key = new_data_key()
    sealed = seal_field(key, SECRET, CONTEXT)
    with pytest.raises(DecryptionError):
        open_field(key, bytes([version]) + sealed[1:], CONTEXT)


@pytest.mark.parametrize("length", [0, 1, 13, 28])
def test_truncated_blob_fails(length: int) -> None:
    key = new_data_key()
    sealed = seal_field(key, b"", CONTEXT)
    assert len(sealed) == 29
    with pytest.raises(DecryptionError):
        open_field(key, sealed[:length], CONTEXT)


def test_wrong_data_key_fails() -> None:
    sealed = seal_field(new_data_key(), SECRET, CONTEXT)
    with pytest.raises(DecryptionError):
        open_field(new_data_key(), sealed, CONTEXT)


def test_wrap_unwrap_round_trip() -> None:
    master, dek = new_data_key(), new_data_key()
    wrapped = wrap_data_key(master, dek, vault_id="vault-1")
    assert wrapped[0] == 0x01
    assert dek not in wrapped
    assert unwrap_data_key(master, wrapped, vault_id="vault-1") == dek


def test_unwrap_with_wrong_master_key_fails() -> None:
    wrapped = wrap_data_key(new_data_key(), new_data_key(), vault_id="vault-1")
    with pytest.raises(DecryptionError):
        unwrap_data_key(new_data_key(), wrapped, vault_id="vault-1")


def test_wrapped_key_moved_to_another_vault_fails() -> None:
    master = new_data_key()
    wrapped = wrap_data_key(master, new_data_key(), vault_id="vault-1")
    with pytest.raises(DecryptionError):
        unwrap_data_key(master, wrapped, vault_id="vault-2")


def test_sealed_field_cannot_pass_for_a_wrapped_key() -> None:
    key = new_data_key()
    context = FieldContext(vault_id="vault-1", provider="", connection="", field="")
    sealed = seal_field(key, new_data_key(), context)
    with pytest.raises(DecryptionError):
        unwrap_data_key(key, sealed, vault_id="vault-1")


def test_wrap_rejects_a_data_key_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_data_key(new_data_key(), b"short", vault_id="vault-1")


def test_keys_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        seal_field(b"\x00" * 16, SECRET, CONTEXT)


def test_key_check_accepts_the_right_master_key() -> None:
    master = new_data_key()
    verify_key_check(master, make_key_check(master))


def test_key_check_rejects_a_wrong_master_key() -> None:
    check = make_key_check(new_data_key())
    with pytest.raises(VaultKeyError, match="does not match") as caught:
        verify_key_check(new_data_key(), check)
    assert isinstance(caught.value.__cause__, DecryptionError)


def test_key_check_rejects_other_blobs() -> None:
    master = new_data_key()
    wrapped = wrap_data_key(master, new_data_key(), vault_id="")
    for blob in (b"", b"\x01" * 40, wrapped):
        with pytest.raises(VaultKeyError):
            verify_key_check(master, blob)

"""open_with_recovery: what a start does with each state a rotation can leave."""

from __future__ import annotations

from pathlib import Path

import pytest

from authsome.crypto.envelope import make_key_check
from authsome.crypto.keystores import FileKeyStore
from authsome.crypto.masterkey import MasterKey, open_with_recovery
from authsome.errors import VaultKeyError

OLD = bytes(range(32))
NEW = bytes(range(32, 64))


def store_with(tmp_path: Path, **slots: bytes) -> FileKeyStore:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    for slot, key in slots.items():
        store.write(slot, key)  # type: ignore[arg-type]
    return store


def test_uncommitted_rotation_is_undone(tmp_path: Path) -> None:
    store = store_with(tmp_path, current=OLD, new=NEW)
    opened = open_with_recovery(MasterKey(OLD, "home-file", store), make_key_check(OLD))
    assert opened.key == OLD
    assert store.read("new") is None and store.read("current") == OLD


def test_committed_rotation_is_finished(tmp_path: Path) -> None:
    store = store_with(tmp_path, current=OLD, new=NEW)
    opened = open_with_recovery(MasterKey(OLD, "home-file", store), make_key_check(NEW))
    assert opened.key == NEW
    assert (store.read("current"), store.read("old"), store.read("new")) == (NEW, OLD, None)


def test_wrong_key_without_a_candidate_changes_nothing(tmp_path: Path) -> None:
    store = store_with(tmp_path, current=OLD, new=OLD)
    with pytest.raises(VaultKeyError, match="does not match"):
        open_with_recovery(MasterKey(OLD, "home-file", store), make_key_check(NEW))
    assert store.read("new") == OLD and store.read("current") == OLD


def test_env_key_is_only_checked() -> None:
    assert open_with_recovery(MasterKey(OLD, "env"), make_key_check(OLD)).key == OLD
    with pytest.raises(VaultKeyError):
        open_with_recovery(MasterKey(OLD, "env"), make_key_check(NEW))

"""Key stores: slots, promotion, and the OS keyring through a real file backend."""

from __future__ import annotations

import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from keyrings.alt.file import PlaintextKeyring

from authsome.crypto.keystores import FileKeyStore, KeyringConfig, KeyringKeyStore
from authsome.crypto.masterkey import load_master_key
from authsome.errors import VaultKeyError
from authsome.home import HomeLayout

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def test_file_store_slots_are_private_and_promote_keeps_the_old_key(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    store.write("current", KEY_A)
    store.write("new", KEY_B)
    assert stat.S_IMODE((tmp_path / "master.key.new").stat().st_mode) == 0o600
    store.promote()
    assert store.read("current") == KEY_B
    assert store.read("old") == KEY_A
    assert store.read("new") is None
    assert stat.S_IMODE((tmp_path / "master.key.old").stat().st_mode) == 0o600


def test_file_store_promote_is_repeatable_after_a_crash_half_way(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    store.write("current", KEY_A)
    store.write("new", KEY_B)
    store.save_old()  # ... crash here, then the next start promotes again
    store.promote()
    assert (store.read("current"), store.read("old"), store.read("new")) == (KEY_B, KEY_A, None)


def test_keyring_store_round_trip(file_keyring: PlaintextKeyring) -> None:
    store = KeyringKeyStore(KeyringConfig("authsome-test", "master-key:x"))
    assert store.read() is None
    store.write("current", KEY_A)
    store.write("new", KEY_B)
    store.promote()
    assert (store.read("current"), store.read("old"), store.read("new")) == (KEY_B, KEY_A, None)
    assert "master-key:x" in store.describe()
    store.remove("old")
    assert store.read("old") is None


def test_a_keyring_that_cannot_be_read_is_an_error_never_no_key(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    layout.ensure_private_dir(layout.server_dir)
    KeyringConfig("authsome-test", "master-key:x").write(layout)
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with pytest.raises(VaultKeyError, match="Could not read OS keyring entry"):
            load_master_key(layout, create=True, environ={})
    finally:
        keyring.set_keyring(previous)
    assert not layout.master_key_file.exists(), "no key may be made when the keyring fails"


def test_a_configured_keyring_without_the_entry_is_an_error(
    tmp_path: Path, file_keyring: PlaintextKeyring
) -> None:
    layout = HomeLayout(tmp_path / "home")
    layout.ensure_private_dir(layout.server_dir)
    KeyringConfig("authsome-test", "master-key:missing").write(layout)
    with pytest.raises(VaultKeyError, match="entry is missing"):
        load_master_key(layout, create=True, environ={})
    assert not layout.master_key_file.exists()


def test_keyring_source_comes_before_the_home_file(
    tmp_path: Path, file_keyring: PlaintextKeyring
) -> None:
    layout = HomeLayout(tmp_path / "home")
    layout.ensure_private_dir(layout.server_dir)
    FileKeyStore(layout.master_key_file, source="home-file").write("current", KEY_B)
    config = KeyringConfig("authsome-test", "master-key:y")
    KeyringKeyStore(config).write("current", KEY_A)
    config.write(layout)
    found = load_master_key(layout, create=False, environ={})
    assert (found.key, found.source) == (KEY_A, "keyring")


def test_damaged_keyring_config_is_an_error(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    layout.ensure_private_dir(layout.server_dir)
    KeyringConfig.path(layout).write_text("{not json")
    with pytest.raises(VaultKeyError, match="keyring"):
        load_master_key(layout, create=True, environ={})

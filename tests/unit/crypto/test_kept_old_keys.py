"""An earlier ``old`` key is kept aside, never overwritten, in both key stores."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

from keyrings.alt.file import PlaintextKeyring

from authsome.crypto.keystores import FileKeyStore, KeyringConfig, KeyringKeyStore, read_key_file

KEYS = [bytes([n]) * 32 for n in range(1, 6)]


def _rotate(store: FileKeyStore | KeyringKeyStore, key: bytes) -> str | None:
    """The key-store half of a rotation: ``key`` in ``new``, then old <- current <- new."""
    store.write("new", key)
    kept = store.save_old()
    store.replace_current()
    return kept


def _kept_files(folder: Path) -> dict[str, bytes]:
    return {
        p.name: read_key_file(p, p.name)
        for p in sorted(folder.iterdir())
        if p.name.startswith("master.key.old.")
    }


def test_each_rotation_keeps_the_earlier_old_key_in_a_file_of_its_own(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    store.write("current", KEYS[0])
    assert _rotate(store, KEYS[1]) is None, "nothing to keep at the first rotation"
    places = [_rotate(store, key) for key in KEYS[2:]]  # within one second: -2, -3
    assert (store.read("current"), store.read("old")) == (KEYS[4], KEYS[3])
    kept = _kept_files(tmp_path)
    assert sorted(kept.values()) == sorted(KEYS[:3])
    assert [str(tmp_path / name) for name in kept] == sorted(p for p in places if p)
    assert len(set(places)) == 3
    for name in kept:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_saving_old_again_after_a_crash_keeps_nothing_twice(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    store.write("current", KEYS[1])
    store.write("old", KEYS[0])
    store.write("new", KEYS[2])
    assert store.save_old() is not None  # ... crash here; the next start promotes
    store.promote()
    assert (store.read("current"), store.read("old"), store.read("new")) == (
        KEYS[2],
        KEYS[1],
        None,
    )
    assert list(_kept_files(tmp_path).values()) == [KEYS[0]]


def test_a_kept_key_is_never_replaced(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "master.key", source="home-file")
    first = Path(store.keep_aside(KEYS[0]))
    second = Path(store.keep_aside(KEYS[1]))
    assert first != second
    assert read_key_file(first, "first") == KEYS[0]
    assert read_key_file(second, "second") == KEYS[1]


def test_the_keyring_store_keeps_the_earlier_old_key_in_an_entry_of_its_own(
    file_keyring: PlaintextKeyring,
) -> None:
    store = KeyringKeyStore(KeyringConfig("authsome-test", "master-key:x"))
    store.write("current", KEYS[0])
    assert _rotate(store, KEYS[1]) is None
    where = _rotate(store, KEYS[2])
    assert where is not None and where.startswith(
        "OS keyring entry authsome-test/master-key:x#old."
    )
    account = where.split("/", 1)[1]
    kept = file_keyring.get_password("authsome-test", account)
    assert kept is not None and store.read("old") == KEYS[1]
    assert store.read("current") == KEYS[2]
    assert kept == base64.b64encode(KEYS[0]).decode("ascii"), "the key before the first rotation"

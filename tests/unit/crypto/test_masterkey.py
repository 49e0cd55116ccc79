from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from authsome.crypto.masterkey import MasterKey, load_master_key
from authsome.errors import VaultKeyError
from authsome.home import HomeLayout

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
KEY_C = bytes(range(64, 96))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def layout(tmp_path: Path) -> HomeLayout:
    return HomeLayout(tmp_path / "home")


def write_home_key(layout: HomeLayout, key: bytes) -> None:
    layout.ensure_private_dir(layout.server_dir)
    layout.master_key_file.write_text(b64(key) + "\n")
    layout.master_key_file.chmod(0o600)


def write_key_file(tmp_path: Path, key: bytes, name: str = "key.b64") -> Path:
    path = tmp_path / name
    path.write_text(b64(key))
    path.chmod(0o600)
    return path


def test_env_comes_first(layout: HomeLayout, tmp_path: Path) -> None:
    write_home_key(layout, KEY_C)
    env = {
        "AUTHSOME_MASTER_KEY": b64(KEY_A),
        "AUTHSOME_MASTER_KEY_FILE": str(write_key_file(tmp_path, KEY_B)),
    }
    assert load_master_key(layout, create=False, environ=env) == MasterKey(KEY_A, "env")


def test_key_file_comes_before_home_file(layout: HomeLayout, tmp_path: Path) -> None:
    write_home_key(layout, KEY_C)
    env = {"AUTHSOME_MASTER_KEY_FILE": str(write_key_file(tmp_path, KEY_B))}
    assert load_master_key(layout, create=False, environ=env) == MasterKey(KEY_B, "file")


def test_home_file_is_last(layout: HomeLayout) -> None:
    write_home_key(layout, KEY_C)
    env = {"AUTHSOME_MASTER_KEY": "", "AUTHSOME_MASTER_KEY_FILE": ""}
    assert load_master_key(layout, create=True, environ=env) == MasterKey(KEY_C, "home-file")


def test_reads_os_environ_by_default(layout: HomeLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHSOME_MASTER_KEY", b64(KEY_A))
    assert load_master_key(layout, create=False).key == KEY_A


def test_creates_home_file_with_mode_0600(layout: HomeLayout) -> None:
    created = load_master_key(layout, create=True, environ={})
    assert created.source == "home-file"
    assert len(created.key) == 32
    assert mode(layout.master_key_file) == 0o600
    assert mode(layout.server_dir) == 0o700
    assert base64.b64decode(layout.master_key_file.read_text()) == created.key
    assert load_master_key(layout, create=False, environ={}) == created


def test_created_keys_are_random(tmp_path: Path) -> None:
    first = load_master_key(HomeLayout(tmp_path / "one"), create=True, environ={})
    second = load_master_key(HomeLayout(tmp_path / "two"), create=True, environ={})
    assert first.key != second.key


def test_missing_key_without_create_is_an_error(layout: HomeLayout) -> None:
    with pytest.raises(VaultKeyError) as caught:
        load_master_key(layout, create=False, environ={})
    message = caught.value.message
    assert "AUTHSOME_MASTER_KEY" in message
    assert "AUTHSOME_MASTER_KEY_FILE" in message
    assert str(layout.master_key_file) in message
    assert not layout.master_key_file.exists()


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.b64encode(b"\x00" * 16).decode(),
        base64.b64encode(b"\x00" * 33).decode(),
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
        "clé",
    ],
)
def test_malformed_env_names_the_source_not_the_value(layout: HomeLayout, value: str) -> None:
    with pytest.raises(VaultKeyError) as caught:
        load_master_key(layout, create=True, environ={"AUTHSOME_MASTER_KEY": value})
    assert "AUTHSOME_MASTER_KEY" in caught.value.message
    assert value not in caught.value.message
    assert not layout.master_key_file.exists()


def test_key_text_may_have_surrounding_whitespace(layout: HomeLayout) -> None:
    env = {"AUTHSOME_MASTER_KEY": f"  {b64(KEY_A)}\n"}
    assert load_master_key(layout, create=False, environ=env).key == KEY_A


@pytest.mark.parametrize("content", [b"garbage", b"\xff\xfe", b"A" * 5000, b""])
def test_malformed_key_file_names_the_file(
    layout: HomeLayout, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(VaultKeyError) as caught:
        load_master_key(layout, create=True, environ={"AUTHSOME_MASTER_KEY_FILE": str(path)})
    assert str(path) in caught.value.message


def test_missing_key_file_is_an_error(layout: HomeLayout, tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    with pytest.raises(VaultKeyError, match="does not exist"):
        load_master_key(layout, create=True, environ={"AUTHSOME_MASTER_KEY_FILE": str(missing)})
    assert not layout.master_key_file.exists()


def test_unreadable_key_file_is_an_error(layout: HomeLayout, tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(VaultKeyError, match="cannot be read"):
        load_master_key(layout, create=True, environ={"AUTHSOME_MASTER_KEY_FILE": str(directory)})


def test_loose_permissions_are_tightened(layout: HomeLayout) -> None:
    write_home_key(layout, KEY_C)
    layout.master_key_file.chmod(0o644)
    assert load_master_key(layout, create=False, environ={}).key == KEY_C
    assert mode(layout.master_key_file) == 0o600


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root",
)
def test_loose_file_of_another_user_is_refused(layout: HomeLayout, tmp_path: Path) -> None:
    path = write_key_file(tmp_path, KEY_B)
    path.chmod(0o644)
    os.chown(path, 12345, 12345)
    with pytest.raises(VaultKeyError, match="another user"):
        load_master_key(layout, create=True, environ={"AUTHSOME_MASTER_KEY_FILE": str(path)})
    assert mode(path) == 0o644


def test_repr_hides_the_key() -> None:
    key = MasterKey(b"\xab" * 32, "env")
    text = repr(key)
    assert "env" in text
    assert "ab" not in text.lower().replace("masterkey", "")
    assert "key=" not in text


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKey(b"short", "env")

"""Where the daemon finds its 256-bit master key (DESIGN §4).

Sources, first match wins:

1. ``AUTHSOME_MASTER_KEY``: base64 of exactly 32 bytes (source ``"env"``);
2. ``AUTHSOME_MASTER_KEY_FILE``: a file holding that base64 text (``"file"``);
3. ``$AUTHSOME_HOME/server/master.key`` (``"home-file"``), created with mode
   0600 on first start when the caller allows it.

The OS keyring (DESIGN §4) will be one more entry in ``_SOURCES``, between the
key file and the home file. Messages name a source, never its contents.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from authsome.errors import VaultKeyError
from authsome.home import HomeLayout, write_private_file

ENV_KEY = "AUTHSOME_MASTER_KEY"
ENV_KEY_FILE = "AUTHSOME_MASTER_KEY_FILE"
KEY_BYTES = 32
_MAX_FILE_BYTES = 4096


@dataclass(frozen=True)
class MasterKey:
    """The master key and where it came from; ``repr`` never shows the key."""

    key: bytes = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError("a master key must be 32 bytes")


def load_master_key(
    layout: HomeLayout, *, create: bool, environ: Mapping[str, str] | None = None
) -> MasterKey:
    """Find the master key; create the home file only when ``create`` is true.

    Pass ``create=False`` whenever encrypted data already exists: a new key
    would not open it, so a missing key must be an error instead.
    """
    env = os.environ if environ is None else environ
    for source in _SOURCES:
        found = source(layout, env)
        if found is not None:
            return found
    if not create:
        raise VaultKeyError(
            f"No master key found: {ENV_KEY} and {ENV_KEY_FILE} are not set "
            f"and {layout.master_key_file} does not exist.",
            hint="Restore the master key this data was encrypted with.",
        )
    return _create_home_file(layout)


def _from_env(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    text = env.get(ENV_KEY)
    if not text:
        return None
    return MasterKey(_decode(text, ENV_KEY), "env")


def _from_env_file(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    raw_path = env.get(ENV_KEY_FILE)
    if not raw_path:
        return None
    path = Path(raw_path).expanduser()
    if not path.exists():
        raise VaultKeyError(f"{ENV_KEY_FILE} names {path}, which does not exist.")
    return MasterKey(_read_key_file(path, f"{ENV_KEY_FILE} ({path})"), "file")


def _from_home_file(layout: HomeLayout, env: Mapping[str, str]) -> MasterKey | None:
    path = layout.master_key_file
    if not path.exists():
        return None
    return MasterKey(_read_key_file(path, str(path)), "home-file")


_SOURCES: tuple[Callable[[HomeLayout, Mapping[str, str]], MasterKey | None], ...] = (
    _from_env,
    _from_env_file,
    _from_home_file,
)


def _create_home_file(layout: HomeLayout) -> MasterKey:
    key = secrets.token_bytes(KEY_BYTES)
    layout.ensure_private_dir(layout.server_dir)
    write_private_file(layout.master_key_file, base64.b64encode(key) + b"\n")
    return MasterKey(key, "home-file")


def _read_key_file(path: Path, where: str) -> bytes:
    """Read a key file, tightening loose permissions only on a file we own."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_mode & 0o077:
                if info.st_uid != os.geteuid():
                    raise VaultKeyError(
                        f"The master key file {where} is readable by others and "
                        "owned by another user; refusing to use it.",
                        hint="Make it mode 0600 and owned by the user running the daemon.",
                    )
                os.fchmod(handle.fileno(), stat.S_IRUSR | stat.S_IWUSR)
            content = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise VaultKeyError(f"The master key file {where} cannot be read: {exc.strerror}.") from exc
    if len(content) > _MAX_FILE_BYTES:
        raise VaultKeyError(f"The master key file {where} is too large to hold a key.")
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError as exc:
        raise VaultKeyError(f"The master key in {where} is not base64 text.") from exc
    return _decode(text, where)


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VaultKeyError(f"The master key in {where} is not valid base64.") from exc
    if len(key) != KEY_BYTES:
        raise VaultKeyError(
            f"The master key in {where} must be base64 of exactly {KEY_BYTES} bytes."
        )
    return key

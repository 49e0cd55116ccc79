"""``$AUTHSOME_HOME/server/config.json``: daemon settings kept with its data.

The file is optional. It holds JSON objects whose dotted paths name settings,
for example ``{"audit": {"retention_days": 90}}`` for ``audit.retention_days``
(issue 6). Flags and ``AUTHSOME_*`` variables win over the file. A key the
daemon does not know is refused rather than ignored, so a misspelt setting
cannot silently keep its default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from authsome.errors import InvalidInput
from authsome.home import HomeLayout

FILE_NAME = "config.json"
#: Dotted key in the file -> field of ``ServerSettings``.
FILE_KEYS = {"audit.retention_days": "audit_retention_days"}


def config_path(home: Path) -> Path:
    return HomeLayout(home.expanduser().absolute()).server_dir / FILE_NAME


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings ``path`` sets, by field name; nothing when it does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    flat = _flatten(document)
    unknown = sorted(set(flat) - set(FILE_KEYS))
    if unknown:
        raise InvalidInput(
            f"{path}: unknown setting {', '.join(unknown)}",
            hint=f"known settings: {', '.join(sorted(FILE_KEYS))}",
        )
    return {FILE_KEYS[key]: value for key, value in flat.items()}


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (a dotted key given as such stays as it is)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class ServerConfigFile(PydanticBaseSettingsSource):
    """A settings source for ``server/config.json`` of the home being configured
    (the ``home`` given to ``ServerSettings``, else ``AUTHSOME_HOME``)."""

    def __init__(self, settings_cls: type[BaseSettings], init: InitSettingsSource) -> None:
        super().__init__(settings_cls)
        self._init = init

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once in __call__

    def __call__(self) -> dict[str, Any]:
        home = self._init.init_kwargs.get("home")
        root = Path(home) if home is not None else HomeLayout.from_env().root
        return read_config_file(config_path(root))

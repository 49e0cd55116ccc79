"""``server/config.json``: ``audit.retention_days`` for the daemon, under flags and env."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from authsome.config import ServerSettings
from authsome.errors import InvalidInput


def _write(home: Path, document: object) -> None:
    (home / "server").mkdir(parents=True, exist_ok=True)
    (home / "server" / "config.json").write_text(json.dumps(document))


def test_retention_days_come_from_the_file(tmp_path: Path) -> None:
    assert ServerSettings(home=tmp_path).audit_retention_days is None  # keep forever
    _write(tmp_path, {"audit": {"retention_days": 90}})
    assert ServerSettings(home=tmp_path).audit_retention_days == 90
    _write(tmp_path, {"audit.retention_days": 45})  # the dotted name as one key
    assert ServerSettings(home=tmp_path).audit_retention_days == 45


def test_the_env_var_and_flags_win_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"audit": {"retention_days": 90}})
    monkeypatch.setenv("AUTHSOME_AUDIT_RETENTION_DAYS", "30")
    assert ServerSettings(home=tmp_path).audit_retention_days == 30
    assert ServerSettings(home=tmp_path, audit_retention_days=7).audit_retention_days == 7


def test_the_home_named_by_the_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"audit": {"retention_days": 12}})
    monkeypatch.setenv("AUTHSOME_HOME", str(tmp_path))
    assert ServerSettings().audit_retention_days == 12


def test_unknown_keys_and_broken_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"audit": {"retention_day": 90}})
    with pytest.raises(InvalidInput, match=r"unknown setting audit\.retention_day$"):
        ServerSettings(home=tmp_path)
    (tmp_path / "server" / "config.json").write_text('{"audit": ')
    with pytest.raises(InvalidInput, match="is not valid JSON"):
        ServerSettings(home=tmp_path)
    _write(tmp_path, ["audit"])
    with pytest.raises(InvalidInput, match="must hold a JSON object"):
        ServerSettings(home=tmp_path)
    _write(tmp_path, {"audit": {"retention_days": 0}})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ServerSettings(home=tmp_path)

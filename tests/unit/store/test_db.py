"""Migrations apply on a fresh database, are idempotent, and refuse damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from authsome.store.db import (
    StoreError,
    create_store_engine,
    current_revision,
    migrate,
    script_heads,
)


def _script_heads() -> list[str]:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("authsome.store") / "migrations"))
    return list(ScriptDirectory.from_config(config).get_heads())


def test_migrations_create_every_table_once(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(engine)
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    expected = {
        "deployment",
        "principals",
        "identities",
        "claims",
        "vaults",
        "connections",
        "connection_secrets",
        "custom_providers",
        "audit_events",
        "alembic_version",
        "dashboard_settings",
        "web_sessions",
        "sign_in_throttle",
        "invites",
        "oauth_clients",
        "oauth_grants",
        "auth_sessions",
        "pop_replay",
        "shared_changes",
        "deployment_keys",
        "run_sessions",
    }
    assert tables == expected
    assert current_revision(engine) == ",".join(sorted(_script_heads()))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_damaged_database_is_reported_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="damaged") as caught:
        migrate(create_store_engine(f"sqlite:///{path}"))
    assert str(path) in caught.value.message
    assert path.read_bytes() == garbage


def test_heads_read_from_the_script_text_match_alembics() -> None:
    assert script_heads() == frozenset(_script_heads())


def test_a_current_database_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'current.db'}"
    migrate(create_store_engine(url))
    probe = (
        "import sys\n"
        "from authsome.store.db import create_store_engine, migrate\n"
        f"migrate(create_store_engine({url!r}))\n"
        "print('alembic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

"""The same Alembic migrations on SQLite and PostgreSQL give the same schema.

Every revision is applied to an empty SQLite file and to an empty database on
the session's throwaway PostgreSQL server; the reflected schemas are then
compared table by table (columns with their generic type, length and
nullability, primary keys, indexes, unique constraints, foreign keys). Each
migrated schema is also compared with the models (Alembic's autogenerate
diff), so a model change without its migration fails here on both stores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from authsome.audit.chain import GENESIS
from authsome.store.db import create_store_engine, current_revision, migrate, script_heads
from authsome.store.models import Base
from tests.support.postgres import PostgresServer

Schema = dict[str, Any]


def _type_of(column: dict[str, Any]) -> str:
    kind = column["type"]
    name = kind._type_affinity.__name__
    length = getattr(kind, "length", None)
    return f"{name}({length})" if length else name


def snapshot(engine: Engine) -> Schema:
    """The schema as both dialects can state it (no names SQLite does not keep)."""
    inspector = inspect(engine)
    schema: Schema = {}
    for table in sorted(inspector.get_table_names()):
        columns = {
            c["name"]: (_type_of(c), c["nullable"], _has_default(c))
            for c in inspector.get_columns(table)
        }
        indexes = {
            (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
            for ix in inspector.get_indexes(table)
            if not ix.get("duplicates_constraint")  # PostgreSQL lists unique constraints twice
        }
        uniques = {tuple(uc["column_names"]) for uc in inspector.get_unique_constraints(table)}
        foreign = {
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                (fk["options"] or {}).get("ondelete"),
            )
            for fk in inspector.get_foreign_keys(table)
        }
        schema[table] = {
            "columns": columns,
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": indexes,
            "unique": uniques,
            "foreign_keys": foreign,
        }
    return schema


def _has_default(column: dict[str, Any]) -> bool:
    default = column.get("default")
    # PostgreSQL states an integer key's sequence as a default; SQLite's rowid needs none.
    return default is not None and not str(default).startswith("nextval(")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'authsome.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_store_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


def test_all_migrations_give_the_same_schema_on_sqlite_and_postgres(
    sqlite_engine: Engine, postgres_engine: Engine
) -> None:
    migrate(sqlite_engine)
    migrate(postgres_engine)
    assert postgres_engine.dialect.name == "postgresql"
    lite, pg = snapshot(sqlite_engine), snapshot(postgres_engine)
    assert set(lite) == set(pg)
    assert set(lite) >= {"deployment", "audit_events", "connections", "alembic_version"}
    for table in lite:
        assert lite[table] == pg[table], table
    heads = script_heads()
    assert heads is not None
    assert current_revision(sqlite_engine) == current_revision(postgres_engine)
    assert set(str(current_revision(postgres_engine)).split(",")) == heads


def test_the_migrated_schema_is_the_models_schema(any_engine: Engine) -> None:
    migrate(any_engine)
    with any_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_postgresql_url_means_psycopg_3(postgres_server: PostgresServer) -> None:
    for driver in ("postgresql", "postgres", "postgresql+psycopg"):
        url = postgres_server.url("postgres", driver=driver)
        engine = create_store_engine(url)
        try:
            assert engine.dialect.name == "postgresql"
            assert engine.dialect.driver == "psycopg"
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        finally:
            engine.dispose()


def test_data_migrations_run_on_both_stores(any_engine: Engine) -> None:
    """Rows written before 0004/0005 are carried over (first admin, the audit chain)."""
    from alembic import command
    from alembic.config import Config

    from authsome.store import db

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with any_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    then = datetime(2026, 1, 2, 3, 4, 5)
    with any_engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO principals (id, email, password_hash, role, created_at) "
                "VALUES ('p1', 'a@example.com', 'x', 'admin', :t)"
            ),
            {"t": then},
        )
        for n in range(3):
            connection.execute(
                sa.text(
                    "INSERT INTO audit_events (ts, event, outcome, detail) "
                    "VALUES (:t, 'resolve', 'ok', :d)"
                ),
                {"t": then, "d": json.dumps({"n": n})},
            )
    migrate(any_engine)
    with any_engine.connect() as connection:
        first = connection.execute(
            sa.text("SELECT first_principal_id, registration_open FROM dashboard_settings")
        ).one()
        rows = connection.execute(
            sa.text("SELECT prev_hash, hash FROM audit_events ORDER BY id")
        ).all()
    assert first == ("p1", False)
    assert rows[0][0] == GENESIS
    assert all(row[1] for row in rows)
    assert [row[0] for row in rows[1:]] == [row[1] for row in rows[:-1]]
    assert datetime.now(UTC) > then.replace(tzinfo=UTC)


def test_migrating_again_changes_nothing(postgres_engine: Engine) -> None:
    migrate(postgres_engine)
    before = snapshot(postgres_engine)
    migrate(postgres_engine)
    assert snapshot(postgres_engine) == before

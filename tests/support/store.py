"""The daemon's database, opened by a test to read what a request changed or to age a record.

Tests run against SQLite (default) or PostgreSQL (``--store=postgres``,
``tests/support/postgres.py``). ``connect(home)`` gives a connection with
sqlite3's calling conventions on both stores (``?`` placeholders, ``execute``
returning a cursor, ``with`` committing, ``row_factory = sqlite3.Row`` for
rows read by name), and values in the shapes SQLite hands back: timestamps as
SQLAlchemy writes them to SQLite (``2026-12-04 05:42:53.099411``, UTC) and
JSON columns as the text stored. Tests can then compare and parse rows the same way on
either store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.support import postgres

#: For tests that are about SQLite's own files (WAL, damaged pages, the online backup API);
#: skipped on PostgreSQL when they run (tests/conftest.py), not decided at import.
sqlite_only = pytest.mark.sqlite_only


def database_url(home: Path) -> str:
    """The store of the daemon serving ``home`` (what ``base_env`` gives it)."""
    if postgres.use_postgres():
        return postgres.shared_server().database_for(str(home))
    return f"sqlite:///{home / 'server' / 'authsome.db'}"


def connect(home: Path, *, autocommit: bool = False) -> sqlite3.Connection | PostgresConnection:
    """A connection to ``home``'s store (sqlite3's own on SQLite)."""
    if not postgres.use_postgres():
        connection = sqlite3.connect(home / "server" / "authsome.db", timeout=10)
        if autocommit:
            connection.isolation_level = None
        return connection
    import psycopg
    from psycopg.types.string import TextLoader

    url = postgres.shared_server().database_for(str(home))
    # UTC, so a timestamp written back as SQLite's text means the same instant.
    connection = psycopg.connect(url, autocommit=autocommit, options="-c TimeZone=UTC")
    # JSON columns as the exact text stored (the audit chain hashes that text).
    connection.adapters.register_loader("json", TextLoader)
    return PostgresConnection(connection)


def scalar(home: Path, sql: str, *params: Any) -> Any:
    connection = connect(home, autocommit=True)
    try:
        row = connection.execute(sql, params).fetchone()
    finally:
        connection.close()
    return None if row is None else row[0]


def rows(home: Path, sql: str, *params: Any) -> list[Any]:
    connection = connect(home, autocommit=True)
    connection.row_factory = sqlite3.Row
    try:
        return list(connection.execute(sql, params).fetchall())
    finally:
        connection.close()


def execute(home: Path, sql: str, *params: Any) -> int:
    connection = connect(home, autocommit=True)
    try:
        return int(connection.execute(sql, params).rowcount)
    finally:
        connection.close()


def fingerprint(home: Path) -> object:
    """Something equal before and after exactly when nothing in the store changed:
    the SQLite file's bytes, or every row of every table on PostgreSQL."""
    if not postgres.use_postgres():
        return (home / "server" / "authsome.db").read_bytes()
    connection = connect(home, autocommit=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name"
            ).fetchall()
        ]
        return {
            table: connection.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()  # noqa: S608 - catalogue names
            for table in tables
        }
    finally:
        connection.close()


_REFUSE_AUDIT = {
    "sqlite": (
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit disk full'); END",
    ),
    "postgres": (
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$",
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
    ),
}
_ALLOW_AUDIT = {
    "sqlite": ("DROP TRIGGER refuse_audit",),
    "postgres": ("DROP TRIGGER refuse_audit ON audit_events", "DROP FUNCTION refuse_audit()"),
}


def refuse_audit_writes(home: Path) -> None:
    """A real fault: from now on every insert into ``audit_events`` fails (a trigger)."""
    _run_each(home, _REFUSE_AUDIT["postgres" if postgres.use_postgres() else "sqlite"])


def allow_audit_writes(home: Path) -> None:
    """Undo ``refuse_audit_writes``."""
    _run_each(home, _ALLOW_AUDIT["postgres" if postgres.use_postgres() else "sqlite"])


def _run_each(home: Path, statements: Sequence[str]) -> None:
    with connect(home) as db:
        for statement in statements:
            db.execute(statement)


class Row(tuple[Any, ...]):
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _as_sqlite_gives_it(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _Cursor:
    def __init__(self, cursor: Any, row_factory: Any) -> None:
        self._cursor = cursor
        self._names = tuple(c.name for c in cursor.description or ())
        self._row_factory = row_factory
        self.rowcount = cursor.rowcount

    def _row(self, raw: Sequence[Any] | None) -> Any:
        if raw is None:
            return None
        values = tuple(_as_sqlite_gives_it(v) for v in raw)
        if self._row_factory is sqlite3.Row:
            row = Row(values)
            row._names = self._names
            return row
        return values

    def fetchone(self) -> Any:
        return self._row(self._cursor.fetchone() if self._names else None)

    def fetchall(self) -> list[Any]:
        return [self._row(raw) for raw in self._cursor.fetchall()] if self._names else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PostgresConnection:
    """sqlite3's conventions over psycopg: ``?`` placeholders, ``with`` commits."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.row_factory: Any = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        query = sql.replace("%", "%%").replace("?", "%s")
        return _Cursor(self._connection.execute(query, tuple(params)), self.row_factory)

    def commit(self) -> None:
        self._connection.commit()

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> PostgresConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self._connection.commit()
        else:
            self._connection.rollback()
        self._connection.close()

"""Engine, sessions and migrations. Knows no HTTP and no business rules."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from authsome.errors import AuthsomeError


class StoreError(AuthsomeError):
    """The database cannot be opened or is damaged."""

    code = "store_error"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    # SQLite's default deferred BEGIN lets two writers both read, then one
    # fails to upgrade its lock; taking the write lock up front serialises
    # read-modify-write transactions (first principal, defaults) instead.
    # Long reads (audit verification, pages) ask for a plain snapshot with
    # ``read_only_session`` so writers are not held up meanwhile (WAL).
    if conn.get_execution_options().get("authsome_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; other URLs pass unchanged."""
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def is_postgres_url(url: str) -> bool:
    return normalise_url(url).startswith("postgresql+psycopg://")


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    PostgreSQL (team mode) gets a bounded pool whose connections are checked
    before use (a restarted server leaves dead ones behind) and a connect timeout,
    so a database that is away fails fast instead of hanging a request.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None},
            hide_parameters=True,  # bound values (hashes, ciphertexts) never reach a log
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    if url.startswith("postgresql+psycopg://"):
        return create_engine(
            url,
            pool_pre_ping=True,
            # As many kept connections as request worker threads (anyio's 40), so a
            # busy replica reuses them instead of opening and closing overflow ones
            # (measured: 301 new connections in 10 s at 32 clients with 10 + 20);
            # the overflow serves the daemon's own threads (audit, change feed).
            pool_size=40,
            max_overflow=10,
            pool_timeout=30,
            pool_recycle=1800,
            connect_args={"connect_timeout": 5, "application_name": "authsome"},
            hide_parameters=True,
        )
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_only_session(factory: sessionmaker[Session], engine: Engine) -> Iterator[Session]:
    """A session for reads only: one consistent snapshot that never blocks writers.

    SQLite: a deferred ``BEGIN`` instead of the write lock. PostgreSQL:
    REPEATABLE READ, so a long walk sees one snapshot too.
    """
    options: dict[str, Any] = {"authsome_read_only": True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with factory(bind=engine.execution_options(**options)) as session:
        yield session  # closing the session ends (rolls back) the snapshot


_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?=\s*(.+)$", re.MULTILINE)


def script_heads() -> frozenset[str] | None:
    """The newest revisions of the migration scripts, read from their text.

    Lets a daemon whose database is current skip importing Alembic (about
    9 MiB of resident memory and a tenth of a second at every start). None
    when a script does not look as expected: then Alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (resources.files("authsome.store") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        text = script.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        down = _DOWN_REVISION.search(text)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents) or None


#: The advisory lock key that serialises migrations on PostgreSQL ("authsome" in ASCII).
_MIGRATE_LOCK = 0x61757468736F6D65


def wait_for_store(
    engine: Engine,
    *,
    timeout: float,
    on_retry: Callable[[float, str], None],
    stop: threading.Event | None = None,
) -> None:
    """Connect once, retrying with exponential back-off while the server is away.

    For a database server (team mode) that starts after the daemon, or restarts
    with it. ``on_retry(delay, reason)`` is told before each wait; after
    ``timeout`` seconds the last error is raised as a ``StoreError``; so it is
    at once when ``stop`` is set.
    """
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            reason = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
            if time.monotonic() + delay > deadline:
                raise StoreError(
                    f"the database at {engine.url.render_as_string(hide_password=True)} "
                    f"did not answer within {timeout:g} s ({reason})",
                    hint="start the database server, or check AUTHSOME_DATABASE_URL",
                ) from exc
            on_retry(delay, reason)
            if (stop or threading.Event()).wait(delay):
                raise StoreError("stopped while waiting for the database") from exc
            delay = min(delay * 2, 5.0)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic), or explain why not."""
    try:
        heads = script_heads()
        current = current_revision(engine)
        if heads is not None and current is not None and set(current.split(",")) == heads:
            return
    except (DatabaseError, OperationalError, sqlite3.DatabaseError):
        pass  # Alembic below reports it
    from alembic import command
    from alembic.config import Config

    script_location = resources.files("authsome.store") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait, then
                # find nothing left to do (Alembic reads the version under the lock).
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK}
                )
            config.attributes["connection"] = connection
            # "heads": features add their own revision on top of the initial schema;
            # every branch is applied (a merge revision may later join them).
            command.upgrade(config, "heads")
    except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:
        raise damaged_store(engine, _error_name(exc)) from exc


def damaged_store(engine: Engine, reason: str) -> StoreError:
    """The one report of a database that cannot be opened or is damaged.

    Names the database and the restore command; ``reason`` says what was
    found and never holds stored values.
    """
    return StoreError(
        f"the database at {engine.url.render_as_string(hide_password=True)} cannot be "
        f"opened or is damaged ({reason})",
        hint="restore a backup with `authsome vault restore FILE` (made by `authsome vault "
        "backup FILE`); Authsome never recreates a damaged database",
    )


def _error_name(exc: BaseException) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


def sqlite_file(engine: Engine) -> Path | None:
    """The file behind a SQLite engine; None for other databases and in-memory SQLite."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def check_sqlite_store(engine: Engine, *, deployment_evidence: Path | None) -> None:
    """Refuse a SQLite database that was lost or whose pages are damaged; others pass.

    ``deployment_evidence`` is a file showing that this home already had a
    deployment (its master key file): then a missing or empty database was
    truncated or deleted, not never made, and is refused before SQLite writes
    a fresh header into it. A database file is then checked with ``PRAGMA
    quick_check`` (page and b-tree structure, not contents; about a millisecond
    for a small store), so damaged pages behind a valid header stop the start
    here instead of failing requests later. PostgreSQL checks its own pages.
    """
    path = sqlite_file(engine)
    if path is None:
        return
    if not path.exists() or path.stat().st_size == 0:
        if deployment_evidence is not None:
            state = "empty" if path.exists() else "missing"
            raise damaged_store(
                engine, f"{state}, but {deployment_evidence} shows it held a deployment"
            )
        return  # a new home: the first start creates it
    reader = engine.execution_options(authsome_read_only=True)
    try:
        with reader.connect() as connection:
            rows = connection.exec_driver_sql("PRAGMA quick_check").fetchall()
    except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:
        raise damaged_store(engine, _error_name(exc)) from exc
    if [str(row[0]) for row in rows] != ["ok"]:
        raise damaged_store(engine, f"its integrity check found {len(rows)} problem(s)")


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision(s) stamped in the database, comma-separated, if any."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version ORDER BY 1")
        heads = [str(row[0]) for row in rows]
        return ",".join(heads) or None

"""An idle daemon has not imported what it never uses (start-up time, idle RSS).

Issue 7 wants the daemon answering ``/health`` within 1 s of starting and
under 80 MiB resident when idle; every module imported costs both. Read
from the daemon's own import log (PYTHONPROFILEIMPORTTIME), which resists
machine load where a timing would not.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import start_daemon
from tests.support.postgres import use_postgres

#: Never needed by a daemon serving its API and proxy:
UNUSED = {
    "websockets",  # uvicorn's WebSocket protocols: the API has no WebSocket route
    "wsproto",
    "rich",  # httpx's command-line client
    "pygments",
}
#: Needed only to migrate a schema that is not current (a first start, an upgrade);
#: Alembic's templates (mako) bring pygments along.
MIGRATION_ONLY = {"alembic", "mako", "pygments"}
#: Needed only by a PostgreSQL store (team mode).
POSTGRES_ONLY = {"sqlalchemy.dialects.postgresql", "psycopg"}


def _imports_of_a_start(home: Path) -> set[str]:
    daemon = start_daemon(home, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert daemon.stop() == 0
    # The log is appended to by every start of this home: take the last one.
    log = daemon.log_text().rpartition("authsome daemon stopped")[0]
    log = log.rpartition("authsome daemon stopped")[2]
    rows = [line.split("|") for line in log.splitlines() if "import time:" in line]
    modules = {row[-1].strip() for row in rows if len(row) == 3}
    assert "authsome.daemon.server" in modules  # the log is there and names our modules
    return modules | {name.split(".")[0] for name in modules}


def test_a_restarted_daemon_imports_nothing_it_does_not_use(home: Path) -> None:
    first = _imports_of_a_start(home)
    assert "alembic" in first  # a new home: the schema is created
    assert first & (UNUSED - MIGRATION_ONLY) == set()
    again = _imports_of_a_start(home)
    assert again & (UNUSED | MIGRATION_ONLY) == set()
    if not use_postgres():
        assert again & POSTGRES_ONLY == set()

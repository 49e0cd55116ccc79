"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import forked, postgres
from tests.support.daemon import (
    Daemon,
    processes_with_home_under,
    start_daemon,
    stop_processes,
)

#: The load test's figures in the terminal summary, also under xdist (its
#: controller never loads tests/adversarial/conftest.py).
pytest_plugins = ("tests.support.load_report",)

PASSWORD = "correct horse battery staple"
EMAIL = "admin@example.com"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "postgres"),
        default=None,
        help="the store every test daemon uses (default: $AUTHSOME_TEST_STORE or sqlite); "
        "postgres starts one throwaway server per session and a database per daemon home",
    )


def pytest_configure(config: pytest.Config) -> None:
    store = config.getoption("--store")
    if store:  # subprocesses (xdist workers, nested pytest runs) read the variable
        os.environ[postgres.STORE_ENV] = store
    postgres.select_store(store)  # whatever was imported before this hook ran
    config.addinivalue_line(
        "markers", "sqlite_only: about the embedded SQLite file; skipped on PostgreSQL"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("sqlite_only") and postgres.use_postgres():
        pytest.skip("about the embedded SQLite file; the store is PostgreSQL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"authsome test store: {postgres.selected_store()}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """The session's throwaway PostgreSQL server (started on first use)."""
    if not postgres.postgres_available():
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    yield postgres.shared_server()


@pytest.fixture
def postgres_url(postgres_server: postgres.PostgresServer) -> str:
    """A fresh, empty database on the session's server (``postgresql://`` URL)."""
    return postgres_server.create_database()


@pytest.fixture(scope="session", autouse=True)
def _stop_postgres_at_end() -> Iterator[None]:
    yield
    postgres.stop_shared_server()


@pytest.fixture(scope="session", autouse=True)
def _no_daemon_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Stop any daemon left running under this session's temp folders (a test
    that forgot one, or a daemon the CLI started in the background), and the
    server the tests' processes were forked from."""
    yield
    leftover = processes_with_home_under(tmp_path_factory.getbasetemp())
    stop_processes(leftover)
    forked.stop_zygote()  # and any process it forked that is still running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def daemon(home: Path) -> Iterator[Daemon]:
    """A fresh daemon with an empty home; stopped (and its exit checked) afterwards."""
    running = start_daemon(home)
    yield running
    running.stop()


@pytest.fixture
def claimed(daemon: Daemon) -> Daemon:
    """The daemon with an identity created and claimed by the first principal."""
    result = daemon.cli(
        "init", "--email", EMAIL, "--password-stdin", "--json", input=PASSWORD + "\n"
    )
    assert result.code == 0, result.err
    assert result.json["status"] == "active"
    return daemon

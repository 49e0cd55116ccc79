"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, start_daemon

PASSWORD = "correct horse battery staple"
EMAIL = "admin@example.com"


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

"""Fixtures of the adversarial suite.

``ledger`` (every test): planted secrets, checked after the test. ``target``
(one per module): a claimed daemon whose proxy reaches a local HTTPS
stand-in for api.openai.com, with a planted admin password and API key; its
own ledger is checked when the module is done.

``claimed_daemon(home, ledger)``: a fresh daemon of its own for a test that
stops, kills or restarts it, its home and log watched by the test's ledger.

``pytest_configure`` adds the plugin that prints the load test's figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from authsome.crypto.identity_keys import IdentityKey
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.adversarial.ledger import Ledger
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import Daemon, start_daemon
from tests.support.pop import home_key

UPSTREAM = ("api.openai.com", "unmatched.test")


@pytest.fixture(autouse=True)
def ledger() -> Iterator[Ledger]:
    """Every test plants its secrets here; none may show up anywhere afterwards."""
    book = Ledger()
    yield book
    leaks = book.leaks()
    assert not leaks, f"planted secrets leaked: {leaks}"


def claimed_daemon(home: Path, ledger: Ledger) -> tuple[Daemon, IdentityKey]:
    """A fresh daemon for ``home`` whose files and log ``ledger`` watches, with an
    identity claimed by the admin: the daemon and that identity's key."""
    daemon = start_daemon(home)
    ledger.watch_home(home, daemon.log_path)
    assert daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n").code == 0
    return daemon, home_key(home)


@dataclass
class Target:
    daemon: Daemon
    upstream: HttpsEchoServer
    ca_file: Path
    key: IdentityKey
    api_key: str
    password: str
    ledger: Ledger

    def cli(self, *args: str, input: str | None = None) -> object:
        result = self.daemon.cli(*args, input=input)
        self.ledger.record(result.out, result.err)
        return result


@contextmanager
def open_target(base: Path, env: dict[str, str] | None = None) -> Iterator[Target]:
    """A claimed daemon (with ``env``) before the echo stand-in; its ledger is checked last."""
    book = Ledger()
    ca = TestCA()
    ca_file = ca.write_pem(base / "upstream-ca.pem")
    with HttpsEchoServer(ca, UPSTREAM) as upstream:
        resolve = [f"--proxy-resolve={name}=127.0.0.1:{upstream.port}" for name in UPSTREAM]
        daemon = start_daemon(base / "home", *resolve, f"--upstream-ca={ca_file}", env=env)
        book.watch_home(daemon.home, daemon.log_path)
        password = book.plant("password")
        api_key = book.plant("openai", prefix="sk-")
        try:
            for args, stdin in (
                (("init", "--email", "admin@example.com", "--password-stdin"), password),
                (("login", "openai", "--key-stdin"), api_key),
            ):
                result = daemon.cli(*args, input=stdin + "\n")
                book.record(result.out, result.err)
                assert result.code == 0, result.err
            yield Target(daemon, upstream, ca_file, home_key(daemon.home), api_key, password, book)
        finally:
            daemon.stop()
    leaks = book.leaks()
    assert not leaks, f"planted secrets leaked: {leaks}"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with open_target(tmp_path_factory.mktemp("target")) as opened:
        yield opened

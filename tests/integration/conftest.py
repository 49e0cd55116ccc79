"""A daemon whose proxy reaches local HTTPS stand-ins for providers (``gateway``);
the dashboard signed in as the daemon's admin (``admin``) and as a second
principal, a user (``user``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import Daemon, start_daemon
from tests.support.web import ADMIN_EMAIL, USER_EMAIL, Browser, open_registration, registered

#: Names the stand-in answers for. The look-alikes must never get credentials.
UPSTREAM_NAMES = (
    "api.openai.com",
    "api.acme.test",
    "eu.api.acme.test",
    "evilacme.test",
    "api.acme.test.evil.test",
    "unmatched.test",
)
OPENAI_KEY = "sk-proj-PLANTEDsecretOPENAI0123456789"
ACME_KEY = "acme-PLANTED-secret-ACME-9876543210"
ACME_PROVIDER = {
    "schema_version": 1,
    "name": "acme",
    "display_name": "Acme",
    "auth_type": "api_key",
    "flow": "api_key",
    "api_url": ["*.acme.test"],
    "api_key": {"header_name": "X-Acme-Key", "header_prefix": "", "env_var": "ACME_API_KEY"},
}


@dataclass
class Gateway:
    daemon: Daemon
    upstream: HttpsEchoServer
    ca_file: Path
    outputs: list[str]

    def cli(self, *args: str, input: str | None = None) -> object:
        result = self.daemon.cli(*args, input=input)
        self.outputs.extend([result.out, result.err])
        return result


@contextmanager
def open_gateway(
    tmp_path: Path,
    *,
    ca: TestCA | None = None,
    extra_resolve: tuple[tuple[str, int], ...] = (),
) -> Iterator[Gateway]:
    """The ``gateway`` set-up; ``extra_resolve`` sends more host names to other
    local servers (whose certificates ``ca`` issued)."""
    ca = ca or TestCA()
    ca_file = ca.write_pem(tmp_path / "upstream-ca.pem")
    with HttpsEchoServer(ca, UPSTREAM_NAMES) as upstream:
        resolve = [f"--proxy-resolve={name}=127.0.0.1:{upstream.port}" for name in UPSTREAM_NAMES]
        resolve += [f"--proxy-resolve={name}=127.0.0.1:{port}" for name, port in extra_resolve]
        daemon = start_daemon(tmp_path / "home", *resolve, f"--upstream-ca={ca_file}")
        gateway = Gateway(daemon, upstream, ca_file, [])
        try:
            steps = [
                (("init", "--email", EMAIL, "--password-stdin"), PASSWORD + "\n"),
                (("login", "openai", "--key-stdin"), OPENAI_KEY + "\n"),
            ]
            provider_file = tmp_path / "acme.json"
            provider_file.write_text(json.dumps(ACME_PROVIDER))
            steps += [
                (("provider", "register", str(provider_file)), None),
                (("login", "acme", "--key-stdin"), ACME_KEY + "\n"),
            ]
            for args, stdin in steps:
                result = daemon.cli(*args, input=stdin)
                gateway.outputs.extend([result.out, result.err])
                assert result.code == 0, (args, result.err)
            yield gateway
        finally:
            daemon.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """Daemon + stand-in upstream + claimed identity + openai and acme keys stored."""
    with open_gateway(tmp_path) as gateway:
        yield gateway


@pytest.fixture
def admin(daemon: Daemon) -> Browser:
    """The dashboard of the fresh ``daemon``, signed in as its first principal (the admin)."""
    return registered(daemon.url, ADMIN_EMAIL)


@pytest.fixture
def user(admin: Browser, daemon: Daemon) -> Browser:
    """The dashboard signed in as a second principal (a user) the admin let register."""
    open_registration(admin)
    return registered(daemon.url, USER_EMAIL)

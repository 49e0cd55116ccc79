"""The proxy CA as a deployment sees it: its expiry is reported, and `doctor`
warns 30 days before it comes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from authsome.home import HomeLayout
from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import Daemon, start_daemon
from tests.support.proxy_ca import self_signed_ca


def test_ready_reports_when_the_proxy_ca_expires(daemon: Daemon) -> None:
    body = httpx.get(daemon.url + "/ready", timeout=10).json()
    not_after = dt.datetime.fromisoformat(body["proxy_ca_not_after"])
    lifetime = not_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3640) < lifetime <= dt.timedelta(days=3650)
    assert body["checks"]["proxy_ca"] == f"ok (valid until {not_after:%Y-%m-%d})"


def _plant_ca(directory: Path, days_left: int) -> dt.datetime:
    """A CA in the daemon's format (``ca.pem`` + ``ca.key``) that ends in ``days_left`` days."""
    now = dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(days=days_left, hours=1)
    cert, key = self_signed_ca(
        now - dt.timedelta(days=3000), not_after, common_name="Authsome proxy CA (old)"
    )
    directory.mkdir(mode=0o700, parents=True)
    for file, data in (
        ("ca.pem", cert.public_bytes(serialization.Encoding.PEM)),
        (
            "ca.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
    ):
        (directory / file).write_bytes(data)
        (directory / file).chmod(0o600)
    return cert.not_valid_after_utc


@pytest.fixture
def ageing_ca(home: Path) -> Iterator[tuple[Daemon, dt.datetime]]:
    """A claimed daemon whose proxy CA has 20 days left."""
    not_after = _plant_ca(HomeLayout(home).server_ca_dir, days_left=20)
    daemon = start_daemon(home)
    try:
        result = daemon.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
        assert result.code == 0, result.err
        yield daemon, not_after
    finally:
        daemon.stop()


def test_doctor_warns_30_days_before_the_ca_expires(ageing_ca: tuple[Daemon, dt.datetime]) -> None:
    daemon, not_after = ageing_ca
    body = httpx.get(daemon.url + "/ready", timeout=10).json()
    assert body["proxy_ca_not_after"] == not_after.isoformat()  # kept, not renewed
    result = daemon.cli("doctor")
    assert result.code == 1, result.out + result.err
    assert f"✖ proxy_ca: the proxy CA expires in 20 days ({not_after:%Y-%m-%d})" in result.out
    assert "fix: move server/ca aside, then authsome daemon restart" in result.out
    checks = {check["name"]: check["ok"] for check in daemon.cli("doctor", "--json").json["checks"]}
    assert checks["proxy_ca"] is False and checks["vault"] is True

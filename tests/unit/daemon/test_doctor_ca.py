"""``authsome doctor``'s proxy CA check: the 30-day boundary, pinned from both
sides with two real CA certificates (31 and 29 days left), and an expired CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from authsome.daemon.services.doctor import ca_validity
from authsome.proxy.ca import CertificateAuthority
from tests.support.proxy_ca import self_signed_ca

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIX = "move server/ca aside, then authsome daemon restart (a new CA is made at start)"


def _ca(tmp_path: Path, days_left: int) -> CertificateAuthority:
    """A CA whose certificate ends ``days_left`` days after ``NOW``."""
    cert, key = self_signed_ca(NOW - timedelta(days=400), NOW + timedelta(days=days_left))
    return CertificateAuthority(cert, key, tmp_path)


def test_a_ca_with_31_days_left_passes(tmp_path: Path) -> None:
    ca = _ca(tmp_path, days_left=31)
    check = ca_validity(ca, now=NOW)
    assert check.name == "proxy_ca" and check.ok and check.fix is None
    assert check.detail == f"valid until {ca.not_after:%Y-%m-%d}"


def test_a_ca_with_29_days_left_fails_with_the_fix(tmp_path: Path) -> None:
    ca = _ca(tmp_path, days_left=29)
    check = ca_validity(ca, now=NOW)
    assert check.name == "proxy_ca" and not check.ok
    assert check.detail == f"the proxy CA expires in 29 days ({ca.not_after:%Y-%m-%d})"
    assert check.fix == FIX


@pytest.mark.parametrize(
    ("margin", "ok"),
    [(timedelta(minutes=1), True), (-timedelta(minutes=1), False)],
)
def test_the_boundary_is_30_days(tmp_path: Path, margin: timedelta, ok: bool) -> None:
    """Thirty days and a minute left passes; a minute short of thirty days fails."""
    ca = _ca(tmp_path, days_left=30)
    assert ca_validity(ca, now=NOW - margin).ok is ok


def test_an_expired_ca_fails_with_the_fix(tmp_path: Path) -> None:
    ca = _ca(tmp_path, days_left=-1)
    check = ca_validity(ca, now=NOW)
    assert not check.ok
    assert check.detail == f"the proxy CA expired on {ca.not_after:%Y-%m-%d}"
    assert check.fix == FIX

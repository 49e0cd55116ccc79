"""What the client trusts for its own calls to the daemon.

A plain-http daemon (the local one) costs no trust roots: its clients get a
verifying context that trusts nothing, built without reading a bundle
(loading the roots was about 25 ms per client, twice per `authsome run`).
An https daemon is verified against AUTHSOME_CA_BUNDLE / SSL_CERT_FILE.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from authsome.client.tls import CA_BUNDLE_ENV, daemon_verify
from authsome.errors import InvalidInput
from authsome.testing.upstream import TestCA


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = TestCA("Team CA").write_pem(tmp_path / "team-ca.pem")
    monkeypatch.setenv(CA_BUNDLE_ENV, str(path))
    return path


@pytest.mark.parametrize("url", ["http://127.0.0.1:7998", "http://[::1]:7998", "HTTP://localhost"])
def test_a_plain_http_daemon_reads_no_roots(url: str, bundle: Path) -> None:
    verify = daemon_verify(url)
    assert isinstance(verify, ssl.SSLContext)
    assert verify.cert_store_stats()["x509_ca"] == 0  # the bundle was not loaded
    assert verify.verify_mode == ssl.CERT_REQUIRED and verify.check_hostname


def test_a_missing_bundle_matters_only_for_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CA_BUNDLE_ENV, str(tmp_path / "nope.pem"))
    assert isinstance(daemon_verify("http://127.0.0.1:7998"), ssl.SSLContext)
    with pytest.raises(InvalidInput, match=r"nope\.pem"):
        daemon_verify("https://authsome.example.internal")


@pytest.mark.parametrize("url", ["https://authsome.example.internal", "HTTPS://authsome.example"])
def test_an_https_daemon_is_verified_against_the_bundle(url: str, bundle: Path) -> None:
    verify = daemon_verify(url)
    assert isinstance(verify, ssl.SSLContext)
    assert verify.cert_store_stats()["x509_ca"] == 1
    assert verify.verify_mode == ssl.CERT_REQUIRED and verify.check_hostname


def test_an_https_daemon_without_a_bundle_uses_the_default_roots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CA_BUNDLE_ENV, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert daemon_verify("https://authsome.example.internal") is True

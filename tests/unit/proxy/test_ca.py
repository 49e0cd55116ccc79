"""The proxy CA: files and modes, certificate profile, and strict verification."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from authsome.proxy.ca import CertificateAuthority


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("home") / "server" / "ca")


def test_files_are_private_and_reloaded(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    first = CertificateAuthority.load_or_create(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca.pem").stat().st_mode) == 0o600
    assert (folder / "ca.pem").read_bytes() == first.cert_pem
    assert b"PRIVATE KEY" not in first.cert_pem
    second = CertificateAuthority.load_or_create(folder)
    assert second.cert_pem == first.cert_pem
    assert sorted(p.name for p in folder.iterdir()) == ["ca.key", "ca.pem"]


def test_a_loose_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    CertificateAuthority.load_or_create(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_key_that_does_not_match_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    first = CertificateAuthority.load_or_create(folder)
    other = ec.generate_private_key(ec.SECP256R1())
    (folder / "ca.key").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert CertificateAuthority.load_or_create(folder).cert_pem != first.cert_pem


def test_ca_certificate_profile(ca: CertificateAuthority) -> None:
    cert = x509.load_pem_x509_certificate(ca.cert_pem)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert "Authsome" in cert.subject.rfc4514_string()
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=3640) < lifetime < dt.timedelta(days=3660)
    assert ca.not_after == cert.not_valid_after_utc


@pytest.mark.parametrize(
    ("host", "kind"),
    [("api.example.com", x509.DNSName), ("127.0.0.1", x509.IPAddress), ("::1", x509.IPAddress)],
)
def test_leaf_profile(ca: CertificateAuthority, host: str, kind: type) -> None:
    leaf = ca.issue_leaf(host)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    [name] = list(san)
    assert isinstance(name, kind) and str(name.value) == host
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc <= now - dt.timedelta(minutes=59)
    assert now + dt.timedelta(hours=22) < leaf.not_valid_after_utc <= now + dt.timedelta(hours=23)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(hours=24)


def test_all_leaves_share_one_key_and_contexts_are_cached(ca: CertificateAuthority) -> None:
    one, two = ca.issue_leaf("a.example"), ca.issue_leaf("b.example")
    assert one.public_key() == two.public_key()
    assert ca.server_context("a.example") is ca.server_context("a.example")
    assert ca.server_context("a.example") is not ca.server_context("b.example")


def _handshake(ca: CertificateAuthority, host: str, client: ssl.SSLContext) -> bytes:
    """A real TLS handshake against ``server_context(host)``; returns the leaf (DER)."""
    server_sock, client_sock = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with ca.server_context(host).wrap_socket(server_sock, server_side=True) as tls:
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(client_sock, server_hostname=host) as tls:
            assert tls.recv(2) == b"ok"
            assert tls.selected_alpn_protocol() == "http/1.1"
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return der
    finally:
        thread.join(5)


@pytest.mark.parametrize("host", ["api.example.com", "127.0.0.1"])
def test_python_strict_verification_accepts_the_chain(ca: CertificateAuthority, host: str) -> None:
    client = ssl.create_default_context(cadata=ca.cert_pem.decode())
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    client.set_alpn_protocols(["h2", "http/1.1"])
    _handshake(ca, host, client)


def test_a_client_that_does_not_trust_the_ca_refuses(ca: CertificateAuthority) -> None:
    client = ssl.create_default_context()  # system roots only
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ca, "api.example.com", client)


def test_openssl_strict_verification_accepts_the_chain(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    leaf_file = tmp_path / "leaf.pem"
    leaf = ca.issue_leaf("api.example.com")
    leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "api.example.com",
            "-CAfile",
            str(ca_file),
            str(leaf_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = subprocess.run(
        [
            "openssl",
            "verify",
            "-verify_hostname",
            "evil.example",
            "-CAfile",
            str(ca_file),
            str(leaf_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0


def test_context_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("authsome.proxy.ca._CONTEXT_CACHE_SIZE", 3)
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    first = ca.server_context("h0.example")
    for index in range(1, 4):
        ca.server_context(f"h{index}.example")
    assert ca.server_context("h3.example") is ca.server_context("h3.example")
    assert ca.server_context("h0.example") is not first  # evicted, rebuilt


def test_context_cache_evicts_the_least_recently_used_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host in use stays cached; a FIFO cache would drop it as the oldest insert."""
    monkeypatch.setattr("authsome.proxy.ca._CONTEXT_CACHE_SIZE", 3)
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    oldest = ca.server_context("h0.example")
    next_oldest = ca.server_context("h1.example")
    newest = ca.server_context("h2.example")
    assert ca.server_context("h0.example") is oldest  # a hit: h0 becomes most recent
    ca.server_context("h3.example")  # over the cap: one host must go
    assert ca.server_context("h0.example") is oldest
    assert ca.server_context("h2.example") is newest
    assert ca.server_context("h1.example") is not next_oldest  # evicted, rebuilt


def test_a_leaf_close_to_expiry_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    first = ca.server_context("api.example.com")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=21)
    monkeypatch.setattr("authsome.proxy.ca._now", lambda: later)
    assert ca.server_context("api.example.com") is first  # still two hours left
    monkeypatch.setattr("authsome.proxy.ca._now", lambda: later + dt.timedelta(hours=1, minutes=5))
    assert ca.server_context("api.example.com") is not first

"""The proxy's certificate authority: one CA per deployment, leaf certificates
per intercepted host.

The CA key never leaves ``server/ca/`` (0600); agents get ``ca.pem`` only.
Leaves share one in-memory key and are valid for 24 hours at most, so a leaked leaf is
worth little; TLS contexts are cached per host and rebuilt before expiry.
Certificates follow RFC 5280 closely enough for OpenSSL 3 and for Python's
``VERIFY_X509_STRICT`` (key identifiers, critical basic constraints).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import socket
import ssl
import tempfile
from collections import OrderedDict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authsome.home import write_private_file

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
_CA_LIFETIME = dt.timedelta(days=3650)
_CA_RENEW_BEFORE = dt.timedelta(days=7)
_LEAF_BACKDATE = dt.timedelta(hours=1)  # tolerates a client clock a little behind
#: Validity period of a leaf, backdating included: 24 hours from notBefore to notAfter.
_LEAF_LIFETIME = dt.timedelta(hours=24)
_LEAF_RENEW_BEFORE = dt.timedelta(hours=1)
_CONTEXT_CACHE_SIZE = 1024


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class CertificateAuthority:
    """Signs leaf certificates for intercepted hosts and hands out TLS contexts."""

    def __init__(
        self,
        cert: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        directory: Path,
    ) -> None:
        self._cert = cert
        self._key = key
        self._directory = directory
        self._leaf_key = _new_key()
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        self._contexts: OrderedDict[str, tuple[ssl.SSLContext, dt.datetime]] = OrderedDict()

    @classmethod
    def load_or_create(cls, directory: Path) -> CertificateAuthority:
        """Load ``ca.pem``/``ca.key`` from ``directory``, creating (or renewing) them."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_mode & 0o077:
            directory.chmod(0o700)
        cert_file, key_file = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        if cert_file.exists() and key_file.exists():
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if (
                isinstance(key, ec.EllipticCurvePrivateKey)
                and key.public_key() == cert.public_key()
                and cert.not_valid_after_utc - _CA_RENEW_BEFORE > _now()
            ):
                return cls(cert, key, directory)
        key = _new_key()
        cert = _make_ca_cert(key)
        write_private_file(
            key_file,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        write_private_file(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert, key, directory)

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def not_after(self) -> dt.datetime:
        return self._cert.not_valid_after_utc

    def server_context(self, host: str) -> ssl.SSLContext:
        """A TLS server context presenting a fresh leaf certificate for ``host``."""
        now = _now()
        cached = self._contexts.get(host)
        if cached is not None and cached[1] - _LEAF_RENEW_BEFORE > now:
            self._contexts.move_to_end(host)
            return cached[0]
        leaf = self.issue_leaf(host, now=now)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        self._load_chain(context, leaf.public_bytes(serialization.Encoding.PEM))
        self._contexts[host] = (context, leaf.not_valid_after_utc)
        self._contexts.move_to_end(host)
        while len(self._contexts) > _CONTEXT_CACHE_SIZE:
            self._contexts.popitem(last=False)
        return context

    def issue_leaf(self, host: str, *, now: dt.datetime | None = None) -> x509.Certificate:
        """A server certificate for ``host`` (a DNS name or an IP address)."""
        now = now or _now()
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
            subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Authsome")])
        except ValueError:
            san = x509.DNSName(host)
            attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Authsome")]
            if len(host) <= 64:
                attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, host))
            subject = x509.Name(attributes)
        public_key = self._leaf_key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _LEAF_BACKDATE)
            .not_valid_after(min(now - _LEAF_BACKDATE + _LEAF_LIFETIME, self.not_after))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )

    def _load_chain(self, context: ssl.SSLContext, leaf_pem: bytes) -> None:
        # The ssl module loads certificates only from files: write the leaf
        # and its key to a 0600 file in the CA's 0700 folder, then remove it.
        fd, name = tempfile.mkstemp(dir=self._directory, prefix=".leaf-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(leaf_pem + self._leaf_key_pem)
            context.load_cert_chain(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


def _make_ca_cert(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = _now()
    deployment = f"{socket.gethostname()[:24]} {secrets.token_hex(4)}"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Authsome"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Authsome proxy CA ({deployment})"),
        ]
    )
    public_key = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _LEAF_BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )

"""Authsome's intercepting HTTPS proxy (DESIGN §2b).

``ProxyServer`` runs on the embedding program's event loop and asks a
``ProxyBackend`` for every decision; ``CertificateAuthority`` signs the
certificates it presents for intercepted hosts.
"""

from authsome.proxy.backend import Injection, ProxyBackend, RunSession
from authsome.proxy.ca import CertificateAuthority
from authsome.proxy.server import ProxyServer

__all__ = ["CertificateAuthority", "Injection", "ProxyBackend", "ProxyServer", "RunSession"]

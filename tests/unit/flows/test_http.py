"""The outbound client factory: trust, proxies ignored, httpx logging quiet."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from authsome.flows.http import OutboundHttp, tls_context
from authsome.testing.upstream import TestCA


def test_httpx_loggers_are_raised_to_warning() -> None:
    assert logging.getLogger("httpx").level >= logging.WARNING
    assert logging.getLogger("httpcore").level >= logging.WARNING


def test_upstream_ca_is_trusted_in_addition_to_system_roots(tmp_path: Path) -> None:
    ca_file = TestCA().write_pem(tmp_path / "ca.pem")
    plain = tls_context(None)
    extended = tls_context(ca_file)
    assert len(extended.get_ca_certs()) == len(plain.get_ca_certs()) + 1
    assert extended.verify_mode == ssl.CERT_REQUIRED and extended.check_hostname


def test_clients_ignore_proxy_environment(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = OutboundHttp().client()
    try:
        assert client._mounts == {}  # no proxy transport mounted
        assert not client.follow_redirects
    finally:
        import asyncio

        asyncio.run(client.aclose())

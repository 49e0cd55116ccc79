"""A real proxy on a free port, a real HTTPS upstream, and a small backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from authsome.proxy import CertificateAuthority, Injection
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.unit.proxy.support import FakeBackend, ProxyThread, World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("proxy")
    test_ca = TestCA()
    test_ca_file = test_ca.write_pem(folder / "upstream-ca.pem")
    proxy_ca = CertificateAuthority.load_or_create(folder / "ca")
    proxy_ca_file = folder / "authsome-ca.pem"
    proxy_ca_file.write_bytes(proxy_ca.cert_pem)
    with HttpsEchoServer(test_ca, ("api.provider.test", "other.provider.test")) as echo:
        backend = FakeBackend()
        proxy = ProxyThread(backend, proxy_ca, test_ca_file).start()
        try:
            yield World(proxy, backend, echo, test_ca, proxy_ca, proxy_ca_file, test_ca_file)
        finally:
            proxy.stop()


@pytest.fixture
def configure(world: World) -> Iterator[Callable[..., FakeBackend]]:
    """Set the backend's tables for one test; reset afterwards."""
    backend = world.backend

    def apply(
        intercept: tuple[str, ...] = ("api.provider.test",),
        injections: dict[str, Injection] | None = None,
        addresses: dict[str, tuple[str, int]] | None = None,
    ) -> FakeBackend:
        backend.intercept = set(intercept)
        backend.injections = dict(injections or {})
        default = {
            name: ("127.0.0.1", world.echo.port)
            for name in ("api.provider.test", "other.provider.test", "badcert.provider.test")
        }
        backend.addresses = {**default, **(addresses or {})}
        backend.records.clear()
        backend.decisions.clear()
        backend.slow_hosts.clear()
        backend.refusals.clear()
        return backend

    yield apply
    # A client may have read its whole response before the proxy records the
    # exchange: let the test's connections close so no record lands in the next test.
    deadline = time.monotonic() + 3
    while world.proxy.server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    apply()

"""The one way ``flows/`` reaches an authorization server: an ``httpx.AsyncClient``.

Every flow function takes the client as its first argument and never builds
its own; the daemon builds clients with :class:`OutboundHttp`, tests pass a
``transport`` (``httpx.MockTransport``) or point it at a local server.

    outbound = OutboundHttp(upstream_ca=Path("test-ca.pem"))
    async with outbound.client() as http:
        metadata = await discover_authorization_server(http, "https://as.example")

httpx errors become :class:`~authsome.errors.EndpointUnreachable` where they
enter (:func:`endpoint_errors`). httpx logs full URLs at INFO (authorization
codes travel in them), so its loggers are raised to WARNING here.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import httpx

from authsome import __version__
from authsome.errors import EndpointUnreachable

for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def outbound_timeout(seconds: float) -> httpx.Timeout:
    """``seconds`` for each read, write and pool wait; connecting gets at most 5 s."""
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


DEFAULT_TIMEOUT = outbound_timeout(15.0)
USER_AGENT = f"authsome/{__version__}"


def tls_context(extra_ca: Path | None) -> ssl.SSLContext:
    """The system roots (certifi when there are none) plus ``extra_ca`` (``--upstream-ca``)."""
    context = ssl.create_default_context()
    if not context.get_ca_certs():
        context.load_verify_locations(cafile=certifi.where())
    if extra_ca is not None:
        context.load_verify_locations(cafile=str(extra_ca))
    return context


@dataclass
class OutboundHttp:
    """Builds the ``httpx.AsyncClient`` every flow receives.

    ``transport`` replaces the network (tests); ``upstream_ca`` is trusted in
    addition to the system roots. Clients ignore proxy variables and netrc
    (``trust_env=False``): the daemon must not hand tokens to whatever proxy
    its environment names.
    """

    upstream_ca: Path | None = None
    transport: httpx.AsyncBaseTransport | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    _tls: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def client(self) -> httpx.AsyncClient:
        if self._tls is None:
            self._tls = tls_context(self.upstream_ca)
        return httpx.AsyncClient(  # the one place that builds outbound clients
            transport=self.transport,
            verify=self._tls,
            timeout=self.timeout,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )


def describe_endpoint(url: str) -> str:
    """Scheme, host and path of ``url``, never its query (which may carry a code)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@contextlib.contextmanager
def endpoint_errors(url: str) -> Iterator[None]:
    """Turn transport failures on ``url`` into ``EndpointUnreachable`` (exit 8)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise EndpointUnreachable(f"{describe_endpoint(url)} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise EndpointUnreachable(
            f"{describe_endpoint(url)} could not be reached ({type(exc).__name__})"
        ) from exc

"""The seam between the proxy engine and whoever embeds it (the daemon, or
``authsome run --local-proxy``).

The engine owns sockets, TLS and HTTP framing; the backend owns every
decision: which run a token belongs to, which hosts are intercepted, what
to inject, where a host really lives, and what goes into the audit log.
Everything except ``injection_for`` is called on the event loop's hot path
and must return without blocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RunSession:
    """One ``authsome run``: the agent behind a proxy token."""

    run_id: str
    identity: str  # agent handle
    principal_id: str | None
    vault_id: str | None


@dataclass(frozen=True, slots=True)
class Injection:
    """What to do with one intercepted request.

    ``headers`` replace any header of the same name (case-insensitive), so a
    placeholder such as ``Authorization: Bearer authsome-managed`` is
    overwritten. With ``deny_status`` set, the client gets that status and
    ``deny_message`` as text/plain, and the upstream is never contacted.
    """

    headers: tuple[tuple[bytes, bytes], ...] = ()
    provider: str | None = None
    connection: str | None = None
    deny_status: int | None = None
    deny_message: str = ""


class ProxyBackend(Protocol):
    def run_for_token(self, token: str) -> RunSession | None:
        """The run a proxy token belongs to; None answers 407."""
        ...

    def should_intercept(self, run: RunSession, host: str, port: int) -> bool:
        """Decided once per CONNECT, before any TLS work; False means a raw tunnel."""
        ...

    def unmatched_refusal(self, run: RunSession, host: str, port: int) -> str | None:
        """For a host that is not intercepted: a one-line reason to refuse it
        (403, audited as denied), or None to tunnel it (``CONNECT``) or forward
        it untouched (plain ``http://``)."""
        ...

    async def injection_for(
        self, run: RunSession, *, host: str, port: int, method: str, path: str
    ) -> Injection | None:
        """What to inject into one request (``path`` has no query); None forwards it untouched."""
        ...

    def record_request(
        self,
        run: RunSession,
        *,
        method: str,
        host: str,
        path: str,
        status: int,
        injection: Injection | None,
        outcome: str,
        reason: str | None,
        duration_ms: float,
    ) -> None:
        """Audit one intercepted or denied request; ``outcome`` is success/failure/denied.

        Must not block.
        """
        ...

    def upstream_address(self, host: str, port: int) -> tuple[str, int]:
        """Where to open the TCP connection for ``host:port`` (``--proxy-resolve``)."""
        ...

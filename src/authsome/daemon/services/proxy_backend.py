"""The daemon's side of the proxy seam (``authsome.proxy.backend.ProxyBackend``).

Every decision here is a dictionary lookup on data prepared earlier; only a
credential cache miss leaves the event loop (to a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from authsome.audit.writer import UNAVAILABLE_MESSAGE, AuditBatcher
from authsome.daemon.services.credentials import CredentialResolver
from authsome.daemon.services.runs import RunRegistry
from authsome.providers.catalogue import ProviderCatalogue
from authsome.proxy.backend import Injection, RunSession


class DaemonProxyBackend:
    def __init__(
        self,
        *,
        runs: RunRegistry,
        catalogue: Callable[[], ProviderCatalogue],
        resolver: CredentialResolver,
        audit: AuditBatcher,
        resolve_overrides: dict[str, tuple[str, int]],
    ) -> None:
        self._runs = runs
        self._catalogue = catalogue
        self._resolver = resolver
        self._audit = audit
        self._overrides = resolve_overrides

    def run_for_token(self, token: str) -> RunSession | None:
        run = self._runs.by_token(token)
        return None if run is None else run.session

    def should_intercept(self, run: RunSession, host: str, port: int) -> bool:
        return self._catalogue().matcher.intercepts_host(host)

    def unmatched_refusal(self, run: RunSession, host: str, port: int) -> str | None:
        active = self._runs.get(run.run_id)
        if active is None or not active.deny_unmatched:
            return None
        granted = active.grant.providers
        scope = f" (its grant lists: {', '.join(sorted(granted))})" if granted is not None else ""
        return (
            f"authsome: {host} matches no provider and this run refuses other hosts"
            f" (--deny-unmatched){scope}"
        )

    async def injection_for(
        self, run: RunSession, *, host: str, port: int, method: str, path: str
    ) -> Injection | None:
        catalogue = self._catalogue()
        name = catalogue.matcher.match(host, path)
        if name is None:
            return None
        if not self._audit.healthy:
            # Fail closed: no credential is used while its use cannot be audited.
            return Injection(
                provider=name, deny_status=503, deny_message=f"authsome: {UNAVAILABLE_MESSAGE}\n"
            )
        active = self._runs.get(run.run_id)
        if active is None:
            return Injection(provider=name, deny_status=407, deny_message="this run has ended\n")
        if not active.allows(name):
            why = (
                "its grant does not include it; its principal can change the grant"
                if not active.grant.allows_provider(name)
                else "it was not listed with --provider"
            )
            return Injection(
                provider=name,
                deny_status=403,
                deny_message=f"authsome: this run may not use {name}: {why}\n",
            )
        assert run.vault_id is not None
        connection = active.connections.get(name)
        resolved = self._resolver.cached(run.vault_id, name, connection)
        if resolved is None:
            provider = catalogue.get(name)
            resolved = await asyncio.to_thread(
                self._resolver.resolve, run.vault_id, provider, connection
            )
        if resolved.connection is None:
            which = f" --connection {connection}" if connection else ""
            named = f" named {connection}" if connection else ""
            problem = (
                f"the {name} connection{named} needs login (status {resolved.unusable})"
                if resolved.unusable
                else f"no {name} connection{named} for this agent"
            )
            return Injection(
                provider=name,
                connection=connection,
                deny_status=403,
                deny_message=f"authsome: {problem}; run `authsome login {name}{which}`\n",
            )
        return Injection(headers=resolved.headers, provider=name, connection=resolved.connection)

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
        detail: dict[str, object] = {"duration_ms": round(duration_ms, 2), "run": run.run_id}
        if reason:
            detail["reason"] = reason
        self._audit.add(
            "proxy_request",
            outcome,
            identity=run.identity,
            principal_id=run.principal_id,
            provider=injection.provider if injection else None,
            connection=injection.connection if injection else None,
            method=method,
            host=host,
            path=path,
            status=status,
            detail=detail,
        )

    def upstream_address(self, host: str, port: int) -> tuple[str, int]:
        return self._overrides.get(host.lower().rstrip("."), (host, port))

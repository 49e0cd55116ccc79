"""The daemon's side of the proxy seam (``authsome.proxy.backend.ProxyBackend``).

Every decision here is a dictionary lookup on data prepared earlier; only a
credential cache miss (or an OAuth token due for refresh) leaves the fast path.
Hosts are matched per vault: a connection logged in to its own instance
(``--base-url``) owns that instance's hosts, for that vault only
(``services/instances.py``); the vault's index is read again after a
connection changes.
"""

from __future__ import annotations

from collections.abc import Callable

from authsome.audit.writer import UNAVAILABLE_MESSAGE, AuditBatcher
from authsome.daemon.services.credentials import CredentialResolver
from authsome.daemon.services.instances import choose_connection
from authsome.daemon.services.runs import RunRegistry
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.matching import Match, Owner, ProviderMatcher
from authsome.proxy.backend import Injection, RunSession

#: The refusal while audit events cannot be written (``routes/local_proxy.py`` tells
#: it from the others by this text, to answer it as ``/resolve`` does: 503).
AUDIT_REFUSAL = f"authsome: {UNAVAILABLE_MESSAGE}\n"


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
        resolver.bind_loop()  # built on the daemon's loop: refreshes run there
        self._audit = audit
        self._overrides = resolve_overrides

    def run_for_token(self, token: str) -> RunSession | None:
        run = self._runs.by_token(token)
        return None if run is None else run.session

    def _matcher(self, run: RunSession, catalogue: ProviderCatalogue) -> ProviderMatcher:
        """The catalogue's matcher plus the run's vault's own instances."""
        return self._resolver.instances.matcher(run.vault_id, catalogue)

    def should_intercept(self, run: RunSession, host: str, port: int) -> bool:
        return self._matcher(run, self._catalogue()).intercepts_host(host)

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
        owners = self._matcher(run, catalogue).match_owners(host, path)
        if not owners:
            return None
        return await self._decide(run, catalogue, owners)

    async def decision_for(
        self, run: RunSession, *, host: str, path: str
    ) -> tuple[Match, Injection] | None:
        """``injection_for``'s decision with the match it was made for (``None``: no owner).

        ``POST /runs/{id}/resolve`` answers with both, so ``run --local-proxy``
        reuses an answer only for requests matched the same way (``Match.key``).
        """
        catalogue = self._catalogue()
        matched = self._matcher(run, catalogue).matched(host, path)
        if matched is None:
            return None
        return matched, await self._decide(run, catalogue, matched.owners)

    async def _decide(
        self, run: RunSession, catalogue: ProviderCatalogue, owners: tuple[Owner, ...]
    ) -> Injection:
        """What to inject for a request owned by ``owners`` (grants, connection, instance)."""
        names = tuple(dict.fromkeys(owner.provider for owner in owners))
        name = names[0]
        if not (self._audit.confirmed or await self._audit.confirm()):
            # Fail closed: no credential is used while its use cannot be audited
            # (after an idle spell ``confirm`` writes once to find out).
            return Injection(provider=name, deny_status=503, deny_message=AUDIT_REFUSAL)
        active = self._runs.get(run.run_id)
        if active is None:
            return Injection(provider=name, deny_status=407, deny_message="this run has ended\n")
        allowed = [candidate for candidate in names if active.allows(candidate)]
        if not allowed:
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
        usable = [n for n in allowed if catalogue.get(n).injection == "proxy"]
        if not usable:
            return _unsupported(allowed[0], catalogue)
        assert run.vault_id is not None
        # Alternatives (github, github-pat) share hosts: use the first one connected.
        unusable: str | None = None  # the first choice exists but needs a new login
        for candidate in usable:
            chosen = active.connections.get(candidate)
            choice = choose_connection(owners, candidate, chosen)
            if isinstance(choice, str):  # the host is another connection's own instance
                if candidate == usable[0]:
                    return Injection(
                        provider=candidate,
                        connection=chosen,
                        deny_status=403,
                        deny_message=f"authsome: {choice} (--connection)\n",
                    )
                continue
            connection, instance = choice.connection, choice.instance
            resolved = self._resolver.cached(run.vault_id, candidate, connection, instance)
            if resolved is None:
                # On the loop: an OAuth token due for refresh is refreshed once, for all.
                resolved = await self._resolver.resolve_async(
                    run.vault_id, catalogue.get(candidate), connection, instance
                )
            if resolved.connection is not None:
                self._resolver.usage.note(run.vault_id, candidate, resolved.connection)
                return Injection(
                    headers=resolved.headers, provider=candidate, connection=resolved.connection
                )
            if resolved.problem is not None and candidate == usable[0]:
                # The connection exists but its token cannot be used: say why.
                return Injection(
                    provider=candidate,
                    connection=connection,
                    deny_status=resolved.problem_status,
                    deny_message=f"authsome: {resolved.problem}\n",
                )
            if candidate == usable[0]:
                unusable = resolved.unusable
        return _no_connection(usable, active.connections.get(usable[0]), unusable)

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


def _unsupported(name: str, catalogue: ProviderCatalogue) -> Injection:
    """403 for a service whose credential the proxy cannot add, saying why."""
    reason = catalogue.get(name).injection_reason
    return Injection(
        provider=name,
        deny_status=403,
        deny_message=f"authsome: the proxy cannot add {name} credentials: {reason}\n",
    )


def _no_connection(names: list[str], connection: str | None, unusable: str | None) -> Injection:
    """403 naming the login command; ``unusable`` is the status of a connection
    that exists but cannot be used (``needs_login`` after a failed refresh)."""
    first = names[0]
    which = f" --connection {connection}" if connection else ""
    named = f" named {connection}" if connection else ""
    others = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    problem = (
        f"the {first} connection{named} needs login (status {unusable})"
        if unusable
        else f"no {first} connection{named} for this agent"
    )
    return Injection(
        provider=first,
        connection=connection,
        deny_status=403,
        deny_message=f"authsome: {problem}; run `authsome login {first}{which}`{others}\n",
    )

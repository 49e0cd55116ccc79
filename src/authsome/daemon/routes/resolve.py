"""``POST /resolve``: the headers a request to a URL needs (the library's path).

The same decisions as the proxy (matching, grants, connection choice, a
connection's own instance) for agents that add headers themselves. Every
answer is audited as ``credential_resolved``; refusals as ``denied``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter

from authsome.audit.writer import UNAVAILABLE_MESSAGE
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import ResolvePublic, ResolveRequest
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.instances import Choice, choose_connection
from authsome.daemon.state import DaemonState
from authsome.errors import (
    AuditUnavailable,
    CredentialUnavailable,
    EndpointUnreachable,
    InvalidInput,
    OperationNotAllowed,
)
from authsome.providers.matching import Owner

router = APIRouter(tags=["resolve"])


@router.post("/resolve")
def resolve(body: ResolveRequest, caller: CallerDep, state: StateDep) -> ResolvePublic:
    """Headers to add to a request for ``url`` (empty when no provider matches)."""
    parts = urlsplit(body.url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("credentials are only resolved for https:// URLs")
    host, path = parts.hostname, parts.path or "/"
    matcher = state.resolver.instances.matcher(caller.vault_id, state.catalogue)
    owners = matcher.match_owners(host, path)
    if not owners:
        return ResolvePublic(provider=None, connection=None, headers={})
    names = tuple(dict.fromkeys(owner.provider for owner in owners))
    allowed = [candidate for candidate in names if caller.grant.allows_provider(candidate)]
    if not allowed:
        _audit(state, caller, names[0], None, host, path, "denied", "not in grant")
        raise OperationNotAllowed(f"this agent's grant does not include {names[0]}")
    name, choice = _first_connected(state, caller, allowed, owners, body.connection)
    if isinstance(choice, str):
        _audit(state, caller, name, body.connection, host, path, "denied", "another instance")
        raise OperationNotAllowed(choice)
    definition = state.catalogue.get(name)
    if definition.injection == "unsupported":
        _audit(state, caller, name, None, host, path, "denied", "not injectable")
        raise OperationNotAllowed(
            f"{name} credentials cannot be added to a request: {definition.injection_reason}"
        )
    if not state.audit.confirm_blocking():
        # Fail closed: no credential is served while its use cannot be audited.
        _audit(state, caller, name, body.connection, host, path, "denied", "audit unavailable")
        raise AuditUnavailable(UNAVAILABLE_MESSAGE)
    assert caller.vault_id is not None
    resolved = state.resolver.cached(caller.vault_id, name, choice.connection, choice.instance)
    if resolved is None:
        provider = state.catalogue.get(name)
        resolved = state.resolver.resolve(
            caller.vault_id, provider, choice.connection, choice.instance
        )
    if resolved.connection is None:
        _audit(state, caller, name, body.connection, host, path, "failure", "no connection")
        if resolved.problem is not None and resolved.problem_status == 503:
            raise EndpointUnreachable(resolved.problem)  # a refresh failed; retried later
        raise CredentialUnavailable(
            resolved.problem or f"no usable {name} connection", hint=f"authsome login {name}"
        )
    _audit(state, caller, name, resolved.connection, host, path, "success", None)
    state.resolver.usage.note(caller.vault_id, name, resolved.connection)
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in resolved.headers}
    return ResolvePublic(provider=name, connection=resolved.connection, headers=headers)


def _first_connected(
    state: DaemonState,
    caller: Caller,
    names: list[str],
    owners: tuple[Owner, ...],
    connection: str | None,
) -> tuple[str, Choice | str]:
    """Alternatives (github, github-pat) share hosts: the first one with a connection,
    and which of its connections serves the host (or why none may)."""
    assert caller.vault_id is not None
    first = choose_connection(owners, names[0], connection)
    for name in names:
        choice = choose_connection(owners, name, connection)
        if isinstance(choice, str):
            continue
        resolved = state.resolver.cached(caller.vault_id, name, choice.connection, choice.instance)
        if resolved is None:
            resolved = state.resolver.resolve(
                caller.vault_id, state.catalogue.get(name), choice.connection, choice.instance
            )
        if resolved.connection is not None:
            return name, choice
    return names[0], first


def _audit(
    state: DaemonState,
    caller: Caller,
    provider: str,
    connection: str | None,
    host: str,
    path: str,
    outcome: str,
    reason: str | None,
) -> None:
    state.audit.add(
        "credential_resolved",
        outcome,
        identity=caller.handle,
        principal_id=caller.principal_id,
        provider=provider,
        connection=connection,
        host=host,
        path=path,
        detail={"reason": reason} if reason else {},
    )

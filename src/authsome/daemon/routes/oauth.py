"""OAuth logins for the CLI (PoP): start, poll, give a client, cancel; refresh; revoke.

    POST   /auth/sessions                 start a login      -> AuthSessionPublic
    GET    /auth/sessions/{id}            its status (advances a device login)
    POST   /auth/sessions/{id}/client     the client id/secret it waits for
    DELETE /auth/sessions/{id}            cancel it (Ctrl-C in the CLI)
    POST   /connections/{provider}/{name}/refresh   refresh now (``authsome refresh``)
    POST   /providers/{name}/revoke       admins: revoke and remove everything of a provider

The browser's side (callback, client form) is in ``oauth_browser``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from authsome.daemon.deps import AdminDep, CallerDep, StateDep
from authsome.daemon.schemas import (
    AuthSessionPublic,
    ConnectionPublic,
    OAuthClientInput,
    OAuthLoginStart,
    ProviderRevokedPublic,
)
from authsome.daemon.services.auth_sessions import LoginRequest, OAuthLogins, Started
from authsome.daemon.services.connections import ActingFor, check_connection_name, find_connection
from authsome.daemon.services.oauth_refresh import Gone, Unusable
from authsome.daemon.services.oauth_revoke import revoke_provider
from authsome.daemon.state import DaemonState
from authsome.errors import (
    ConnectionNotFound,
    CredentialUnavailable,
    EndpointUnreachable,
    IdentityPending,
    InvalidInput,
)
from authsome.store.db import transaction
from authsome.store.models import AuthSession

router = APIRouter(tags=["oauth"])

CALLBACK_PATH = "/auth/callback/oauth"


def daemon_url(request: Request, state: DaemonState) -> str:
    """The daemon's own URL as a browser on this machine reaches it (the port it really has)."""
    if state.settings.public_url:
        return state.settings.public_url.rstrip("/")
    host = state.settings.host
    shown = f"[{host}]" if ":" in host else host
    server = request.scope.get("server")
    port = server[1] if server else state.settings.port
    return f"http://{shown}:{port}"


def logins(state: DaemonState) -> OAuthLogins:
    return OAuthLogins(
        sessions=state.sessions,
        keys=state.vault_keys,
        master_key=state.master_key.key,
        outbound=state.outbound,
        resolver=state.resolver,
        catalogue=state.catalogue,
    )


def session_public(row: AuthSession, started: Started | None = None) -> AuthSessionPublic:
    endpoints = row.endpoints or {}
    return AuthSessionPublic(
        id=row.id,
        provider=row.provider,
        connection=row.connection,
        flow=row.flow,
        status=row.status,
        expires_at=row.expires_at,
        authorization_url=started.authorization_url if started else None,
        client_form_url=started.client_form_url if started else None,
        user_code=row.user_code if row.status == "pending" else None,
        verification_uri=endpoints.get("verification_uri"),
        verification_uri_complete=endpoints.get("verification_uri_complete"),
        interval=row.interval,
        error=row.error,
        message=row.message,
    )


@router.post("/auth/sessions", status_code=201)
async def start_login(
    body: OAuthLoginStart, request: Request, caller: CallerDep, state: StateDep
) -> AuthSessionPublic:
    """Start an OAuth login; the CLI opens ``authorization_url`` (or the client form)."""
    if caller.vault_id is None:
        raise IdentityPending("this identity's principal has no vault yet")
    base = daemon_url(request, state)
    started = await logins(state).start(
        caller,
        LoginRequest(
            provider=body.provider,
            connection=body.connection,
            flow=body.flow,
            prefer_device=body.prefer_device,
            scopes=body.scopes,
            base_url=body.base_url,
            force=body.force,
        ),
        redirect_uri=base + CALLBACK_PATH,
        daemon_url=base,
    )
    return session_public(started.session, started)


@router.get("/auth/sessions/{session_id}")
async def login_status(session_id: str, caller: CallerDep, state: StateDep) -> AuthSessionPublic:
    """Where the login stands; polling it also advances a device login."""
    return session_public(await logins(state).status(caller, session_id))


@router.post("/auth/sessions/{session_id}/client")
async def give_client(
    session_id: str, body: OAuthClientInput, caller: CallerDep, state: StateDep
) -> AuthSessionPublic:
    """The OAuth client the login waits for, typed at the CLI's masked prompt."""
    secret = body.client_secret.get_secret_value() if body.client_secret else None
    started = await logins(state).provide_client(
        session_id, client_id=body.client_id, client_secret=secret, caller=caller
    )
    return session_public(started.session, started)


@router.delete("/auth/sessions/{session_id}")
def cancel_login(session_id: str, caller: CallerDep, state: StateDep) -> AuthSessionPublic:
    """Cancel a login (the CLI does this on Ctrl-C)."""
    return session_public(logins(state).cancel(caller, session_id))


@router.post("/connections/{provider}/{name}/refresh")
async def refresh_connection(
    provider: str, name: str, caller: CallerDep, state: StateDep
) -> ConnectionPublic:
    """Refresh an OAuth connection's token now; exit 5 when it needs a new login."""
    definition = state.catalogue.get(provider)
    check_connection_name(name)
    if caller.vault_id is None:
        raise IdentityPending("this identity's principal has no vault yet")
    with transaction(state.sessions) as db:
        connection = find_connection(db, caller.vault_id, definition.name, name)
        if connection is None:
            raise ConnectionNotFound(f"no {provider} connection named {name!r}")
        if connection.auth_type != "oauth2":
            raise InvalidInput(f"{provider}/{name} is an API key; there is nothing to refresh")
        connection_id = connection.id
    outcome = await state.resolver.refresh_now(caller.vault_id, definition.name, connection_id)
    if isinstance(outcome, Gone):
        raise ConnectionNotFound(f"no {provider} connection named {name!r}")
    if isinstance(outcome, Unusable):
        if outcome.needs_login:
            raise CredentialUnavailable(outcome.message, hint=outcome.hint)
        raise EndpointUnreachable(outcome.message)
    with transaction(state.sessions) as db:
        refreshed = find_connection(db, caller.vault_id, definition.name, name)
        if refreshed is None:
            raise ConnectionNotFound(f"no {provider} connection named {name!r}")
        return ConnectionPublic.model_validate(refreshed, from_attributes=True)


@router.post("/providers/{name}/revoke")
async def revoke_everything(name: str, caller: AdminDep, state: StateDep) -> ProviderRevokedPublic:
    """Admins: revoke every token of a provider, remove its connections and clients."""
    definition = state.catalogue.get(name)
    assert caller.principal_id is not None
    result, vaults = await revoke_provider(
        provider=definition.name,
        sessions=state.sessions,
        keys=state.vault_keys,
        master_key=state.master_key.key,
        outbound=state.outbound,
        actor=ActingFor(caller.handle, caller.principal_id),
    )
    for vault_id in vaults:
        state.resolver.invalidate(vault_id, definition.name)
    return ProviderRevokedPublic(
        provider=result.provider,
        connections=result.connections,
        revoked=result.revoked,
        revocation_failures=result.revocation_failures,
        clients=result.clients,
    )

"""Connections page: the signed-in principal's own vault, never its secrets.

An API key may be entered here (the browser bridge of DESIGN §2): it goes
straight into ``store_api_key`` and is never shown again. An OAuth log-in
starts here too: the daemon opens a login session for the signed-in
principal (no agent identity) and the page links to the provider's
authorization URL; its callback stores the connection like a CLI login's.
The daemon picks the flow as for ``authsome login``: for a device-code
provider the page shows the code to enter and reloads itself, each load
letting the daemon poll the provider, until the connection is stored.
OAuth connections can be refreshed now, and revoked at the provider
(RFC 7009) before they are removed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from authsome.daemon.deps import StateDep
from authsome.daemon.routes.oauth import CALLBACK_PATH, daemon_url, logins
from authsome.daemon.services.auth_sessions import LoginRequest
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connections import (
    ActingFor,
    find_connection,
    remove_connection,
    set_default_connection,
    store_api_key,
)
from authsome.daemon.services.dashboard import page_connections, vault_of
from authsome.daemon.services.oauth_endpoints import DEVICE_CODE
from authsome.daemon.services.oauth_refresh import Gone, Unusable
from authsome.daemon.services.oauth_revoke import Revocation, revocation_for, revoke
from authsome.daemon.services.web_sessions import SignedIn
from authsome.daemon.web.paging import PagingDep
from authsome.daemon.web.render import render
from authsome.daemon.web.security import FormDep, SignedInDep, WebError, WebRoute, not_found
from authsome.errors import AuthsomeError, CredentialUnavailable, InvalidInput
from authsome.providers.schema import ProviderDefinition
from authsome.store.db import transaction
from authsome.store.models import AuthSession, Connection, Principal, Vault

router = APIRouter(prefix="/ui/connections", route_class=WebRoute, include_in_schema=False)


def _actor(signed_in: SignedIn) -> ActingFor:
    return ActingFor(identity=None, principal_id=signed_in.principal_id)


def _own(db: Session, signed_in: SignedIn, provider: str, name: str) -> tuple[Vault, Connection]:
    vault = vault_of(db, signed_in.principal_id)
    found = find_connection(db, vault.id, provider[:64], name[:64]) if vault else None
    if vault is None or found is None:
        raise not_found()
    return vault, found


@router.get("")
def connections(
    request: Request, signed_in: SignedInDep, paging: PagingDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        vault = vault_of(db, signed_in.principal_id)
        rows, total = page_connections(
            db, vault.id if vault else None, offset=paging.offset, limit=paging.per_page
        )
        return render(request, "connections.html", rows=rows, pager=paging.pager(total))


def _api_key_providers(state: StateDep) -> list[str]:
    return [d.name for d in state.catalogue.all() if d.auth_type == "api_key"]


@router.get("/new")
def new_connection(
    request: Request,
    signed_in: SignedInDep,
    state: StateDep,
    provider: Annotated[str, Query(max_length=64)] = "",
    connection: Annotated[str, Query(max_length=64)] = "default",
    replace: Annotated[bool, Query()] = False,
) -> Response:
    """The API-key form; "Log in again" on a connection prefills its name and replace."""
    return render(
        request,
        "connection_new.html",
        providers=_api_key_providers(state),
        chosen=provider,
        name=connection or "default",
        replace=replace,
        error=None,
    )


@router.post("/new")
def store_connection(
    request: Request, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    provider_name, name = form.get("provider")[:64], form.get("connection", "default")[:64]
    try:
        provider = state.catalogue.get(provider_name)
        with transaction(state.sessions) as db:
            principal = db.get(Principal, signed_in.principal_id)
            assert principal is not None
            vault = state.vault_keys.ensure_vault(db, principal)
            store_api_key(
                db,
                state.vault_keys,
                vault,
                provider,
                name=name,
                api_key=form.get("api_key"),
                force=form.flag("replace"),
                actor=_actor(signed_in),
            )
    except AuthsomeError as exc:
        return render(
            request,
            "connection_new.html",
            status=exc.http_status,
            providers=_api_key_providers(state),
            chosen=provider_name,
            name=name,
            replace=form.flag("replace"),
            error=exc.message,
        )
    state.resolver.invalidate(vault.id, provider.name)
    return RedirectResponse(f"/ui/connections/{provider.name}/{name}?done=stored", 303)


@router.post("/login")
async def start_oauth_login(
    request: Request, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    """Start an OAuth login for the signed-in principal's vault; the page that answers
    links on to the provider (a redirect after a form post would break ``form-action``)."""
    provider_name, name = form.get("provider")[:64], form.get("connection", "default")[:64]
    provider = state.catalogue.get(provider_name)
    if provider.auth_type != "oauth2":
        raise InvalidInput(
            f"{provider.name} uses an API key; paste it on the connections page instead"
        )

    def vault_id() -> str:
        with transaction(state.sessions) as db:
            principal = db.get(Principal, signed_in.principal_id)
            assert principal is not None
            return state.vault_keys.ensure_vault(db, principal).id

    caller = _web_caller(signed_in, await asyncio.to_thread(vault_id))
    base = daemon_url(request, state)
    started = await logins(state).start(
        caller,
        # No flow named: the daemon picks the provider's, as for `authsome login`.
        LoginRequest(provider=provider.name, connection=name, force=form.flag("replace")),
        redirect_uri=base + CALLBACK_PATH,
        daemon_url=base,
    )
    row = started.session
    if row.flow == DEVICE_CODE and row.status == "pending":
        return RedirectResponse(_status_path(row.id), 303)  # the code shows there
    return _login_page(request, provider, row, started.authorization_url or started.client_form_url)


def _web_caller(signed_in: SignedIn, vault_id: str | None) -> Caller:
    """Login sessions belong to whoever started them: here, this browser session."""
    return Caller(
        identity_id=f"web:{signed_in.session_id}"[:64],
        handle="",
        jkt="",
        status="active",
        principal_id=signed_in.principal_id,
        role=signed_in.role,
        email=signed_in.email,
        vault_id=vault_id,
    )


def _status_path(session_id: str) -> str:
    # Three segments: no connection page (/ui/connections/<provider>/<name>) looks like it.
    return f"/ui/connections/login/{session_id}/status"


@router.get("/login/{session_id}/status")
async def oauth_login_status(
    session_id: str, request: Request, signed_in: SignedInDep, state: StateDep
) -> Response:
    """A login started on this page: the device code to enter while it is pending (the
    page reloads itself, and each load lets the daemon poll the provider when due), then
    the stored connection, or why it failed."""
    row = await logins(state).status(_web_caller(signed_in, None), session_id[:64])
    if row.status == "complete":
        return RedirectResponse(
            f"/ui/connections/{row.provider}/{row.connection}?done=logged_in", 303
        )
    definition = state.catalogue.find(row.provider)
    if definition is None:
        raise not_found()
    return _login_page(request, definition, row, None)


def _login_page(
    request: Request, definition: ProviderDefinition, row: AuthSession, target: str | None
) -> Response:
    """Where a login stands; ``target`` is the one-time link only its start may show."""
    waiting = row.status in ("pending", "needs_client", "exchanging")
    return render(
        request,
        "connection_login.html",
        definition=definition,
        login=row,
        connection=row.connection,
        target=target,
        waiting=waiting,
        reload_seconds=min(max(row.interval or 5, 2), 10) if waiting and not target else None,
        needs_client=row.status == "needs_client",
        status_path=_status_path(row.id),
    )


@router.get("/{provider}/{name}")
def connection(
    provider: str, name: str, request: Request, signed_in: SignedInDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        vault, found = _own(db, signed_in, provider, name)
        revocable = (
            revocation_for(db, state.vault_keys, state.master_key.key, vault, found) is not None
        )
        return render(
            request,
            "connection.html",
            connection=found,
            definition=state.catalogue.find(found.provider),
            revocable=revocable,
        )


@router.post("/{provider}/{name}/default")
def set_default(
    provider: str, name: str, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        vault, found = _own(db, signed_in, provider, name)
        set_default_connection(db, vault.id, found, actor=_actor(signed_in))
    state.resolver.invalidate(vault.id, found.provider)
    return RedirectResponse(f"/ui/connections/{found.provider}/{found.name}?done=default", 303)


@router.post("/{provider}/{name}/refresh")
async def refresh(
    provider: str, name: str, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    """Refresh an OAuth token now (``authsome refresh`` from the browser)."""

    def find() -> tuple[str, str, str, str]:
        with transaction(state.sessions) as db:
            vault, found = _own(db, signed_in, provider, name)
            if found.auth_type != "oauth2":
                raise WebError(400, "API keys do not expire; there is nothing to refresh.")
            return vault.id, found.provider, found.name, found.id

    vault_id, provider_name, connection_name, connection_id = await asyncio.to_thread(find)
    outcome = await state.resolver.refresh_now(vault_id, provider_name, connection_id)
    if isinstance(outcome, Gone):
        raise not_found()
    if isinstance(outcome, Unusable):
        raise CredentialUnavailable(outcome.message, hint=outcome.hint)
    target = f"/ui/connections/{provider_name}/{connection_name}?done=refreshed"
    return RedirectResponse(target, 303)


@router.post("/{provider}/{name}/logout")
async def log_out(
    provider: str, name: str, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    """Remove the connection; with ``revoke=on``, first revoke its tokens at the provider."""

    def plan() -> Revocation | None:
        with transaction(state.sessions) as db:
            vault, found = _own(db, signed_in, provider, name)
            return revocation_for(db, state.vault_keys, state.master_key.key, vault, found)

    def remove() -> str:
        with transaction(state.sessions) as db:
            vault, found = _own(db, signed_in, provider, name)
            remove_connection(db, vault, found.provider, found.name, actor=_actor(signed_in))
            return vault.id

    revocation = await asyncio.to_thread(plan) if form.flag("revoke") else None
    done = "logged_out"
    if revocation is not None:
        done = "revoked" if await revoke(state.outbound, state.sessions, revocation) else "kept"
    vault_id = await asyncio.to_thread(remove)
    state.resolver.invalidate(vault_id, provider)
    return RedirectResponse(f"/ui/connections?done={done}_connection", 303)

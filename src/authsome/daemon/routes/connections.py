"""Connections in the caller's vault: API-key login, logout, list."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlalchemy.orm import Session

from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import ApiKeyLogin, ConnectionPublic, LogoutPublic
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connections import (
    ActingFor,
    check_connection_name,
    find_connection,
    list_connections,
    remove_connection,
    store_api_key,
)
from authsome.daemon.services.instances import check_new_instance
from authsome.daemon.services.oauth_revoke import Revocation, revocation_for, revoke
from authsome.errors import ConnectionNotFound, IdentityPending
from authsome.store.db import transaction
from authsome.store.models import Connection, Vault

router = APIRouter(tags=["connections"])


def _vault(db: Session, caller: Caller) -> Vault:
    vault = db.get(Vault, caller.vault_id) if caller.vault_id else None
    if vault is None:
        raise IdentityPending("this identity's principal has no vault yet")
    return vault


def _actor(caller: Caller) -> ActingFor:
    assert caller.principal_id is not None
    return ActingFor(identity=caller.handle, principal_id=caller.principal_id)


def _public(connection: Connection) -> ConnectionPublic:
    return ConnectionPublic.model_validate(connection, from_attributes=True)


@router.get("/connections")
def connections(caller: CallerDep, state: StateDep) -> list[ConnectionPublic]:
    """The caller's connections (never their secrets)."""
    with transaction(state.sessions) as db:
        return [_public(item) for item in list_connections(db, _vault(db, caller).id)]


@router.post("/connections", status_code=201)
def login_api_key(body: ApiKeyLogin, caller: CallerDep, state: StateDep) -> ConnectionPublic:
    """Store an API key for a provider, sealed with the vault's data key.

    ``base_url`` names the connection's own instance of a multi-tenant
    provider; the proxy then sends the key to that instance's hosts only.
    """
    catalogue = state.catalogue
    provider = catalogue.get(body.provider)
    with transaction(state.sessions) as db:
        vault = _vault(db, caller)
        base_url = None
        if body.base_url is not None:
            base_url = check_new_instance(
                db,
                catalogue,
                vault.id,
                provider,
                connection=check_connection_name(body.connection),
                base_url=body.base_url,
            )
        connection = store_api_key(
            db,
            state.vault_keys,
            vault,
            provider,
            name=body.connection,
            api_key=body.api_key.get_secret_value(),
            force=body.force,
            actor=_actor(caller),
            base_url=base_url,
        )
        public = _public(connection)
    state.resolver.invalidate(vault.id, provider.name)
    return public


@router.delete("/connections/{provider}/{name}")
async def logout(provider: str, name: str, caller: CallerDep, state: StateDep) -> LogoutPublic:
    """Revoke an OAuth connection's tokens at the provider (RFC 7009), then remove it."""

    def plan() -> Revocation | None:
        with transaction(state.sessions) as db:
            vault = _vault(db, caller)
            found = find_connection(db, vault.id, provider, check_connection_name(name))
            if found is None:
                raise ConnectionNotFound(f"no {provider} connection named {name!r}")
            return revocation_for(db, state.vault_keys, state.master_key.key, vault, found)

    def remove() -> str:
        with transaction(state.sessions) as db:
            vault = _vault(db, caller)
            remove_connection(db, vault, provider, name, actor=_actor(caller))
            return vault.id

    revocation = await asyncio.to_thread(plan)
    revoked = None
    if revocation is not None:
        revoked = await revoke(state.outbound, state.sessions, revocation)
    vault_id = await asyncio.to_thread(remove)
    state.resolver.invalidate(vault_id, provider)
    return LogoutPublic(provider=provider, connection=name, removed=True, revoked=revoked)

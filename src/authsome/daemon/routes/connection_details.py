"""One connection: inspect it (no secrets) or make it its provider's default."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import ConnectionDetailsPublic, ConnectionPublic
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connection_admin import (
    get_connection,
    make_default,
    secret_field_names,
)
from authsome.daemon.services.vault_access import acting_for, caller_vault
from authsome.daemon.state import DaemonState
from authsome.store.db import transaction

router = APIRouter(tags=["connections"])


def _details(
    db: Session, state: DaemonState, caller: Caller, provider: str, name: str | None
) -> ConnectionDetailsPublic:
    definition = state.catalogue.get(provider)
    connection = get_connection(db, caller_vault(db, caller), definition.name, name)
    public = ConnectionPublic.model_validate(connection, from_attributes=True)
    return ConnectionDetailsPublic(
        **public.model_dump(),
        secret_fields=secret_field_names(db, connection),
        last_used_at=connection.last_used_at,
    )


@router.get("/connections/{provider}")
def inspect_default(provider: str, caller: CallerDep, state: StateDep) -> ConnectionDetailsPublic:
    """The provider's default connection (never its secrets)."""
    with transaction(state.sessions) as db:
        return _details(db, state, caller, provider, None)


@router.get("/connections/{provider}/{name}")
def inspect(
    provider: str, name: str, caller: CallerDep, state: StateDep
) -> ConnectionDetailsPublic:
    """One connection (never its secrets)."""
    with transaction(state.sessions) as db:
        return _details(db, state, caller, provider, name)


@router.put("/connections/{provider}/{name}/default")
def set_default(provider: str, name: str, caller: CallerDep, state: StateDep) -> ConnectionPublic:
    """Make this connection the one used when none is named."""
    definition = state.catalogue.get(provider)
    with transaction(state.sessions) as db:
        vault = caller_vault(db, caller)
        chosen = make_default(db, vault, definition.name, name, actor=acting_for(caller))
        public = ConnectionPublic.model_validate(chosen, from_attributes=True)
    state.resolver.invalidate(vault.id, definition.name)
    return public

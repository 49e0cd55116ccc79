"""Provider catalogue: list, inspect, register and remove custom definitions.

Registering or removing swaps ``state.catalogue`` for a new one (under
``catalogue_lock``, after the row is written) and drops cached headers for
that name, since a replaced definition may put the key in another header.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.deps import AdminDep, CallerDep, StateDep
from authsome.daemon.schemas import (
    ProviderDetailPublic,
    ProviderPublic,
    ProviderRegistration,
    ProviderRemovedPublic,
)
from authsome.daemon.services.caller import Caller
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition, load_provider_json
from authsome.store.db import transaction
from authsome.store.models import Connection, CustomProvider

router = APIRouter(tags=["providers"])


def _public(
    catalogue: ProviderCatalogue, definition: ProviderDefinition, connected: set[str]
) -> ProviderPublic:
    return ProviderPublic(
        name=definition.name,
        display_name=definition.display_name,
        auth_type=definition.auth_type,
        flow=definition.flow,
        api_url=list(definition.api_url),
        env_var=definition.api_key.env_var if definition.api_key else None,
        bundled=catalogue.is_bundled(definition.name),
        connected=definition.name in connected,
        description=definition.description,
        overrides_bundled=catalogue.overrides_bundled(definition.name),
        injection=definition.injection,
    )


def _connected(state: StateDep, vault_id: str | None) -> set[str]:
    if vault_id is None:
        return set()
    with transaction(state.sessions) as db:
        rows = db.scalars(select(Connection.provider).where(Connection.vault_id == vault_id))
        return set(rows)


@router.get("/providers")
def list_providers(caller: CallerDep, state: StateDep) -> list[ProviderPublic]:
    """Every provider this deployment knows, bundled and custom."""
    catalogue = state.catalogue
    connected = _connected(state, caller.vault_id)
    return [_public(catalogue, item, connected) for item in catalogue.all()]


@router.get("/providers/{name}")
def get_provider(name: str, caller: CallerDep, state: StateDep) -> ProviderDetailPublic:
    """One provider's public description and its whole definition."""
    catalogue = state.catalogue
    definition = catalogue.get(name)
    summary = _public(catalogue, definition, _connected(state, caller.vault_id))
    return ProviderDetailPublic(
        **summary.model_dump(),
        header=definition.header_display(),
        definition=definition.model_dump(mode="json", exclude_none=True),
    )


@router.post("/providers", status_code=201)
def register_provider(
    body: ProviderRegistration, caller: AdminDep, state: StateDep
) -> ProviderPublic:
    """Validate and store a custom provider (admins only)."""
    raw = json.dumps(body.definition)
    definition = load_provider_json(raw, source="request body")
    with state.catalogue_lock, transaction(state.sessions) as db:
        replaced = state.catalogue.find(definition.name) is not None
        updated = state.catalogue.with_custom(definition, force=body.force)
        db.merge(
            CustomProvider(name=definition.name, definition=raw, created_by=caller.principal_id)
        )
        event = "provider_updated" if replaced else "provider_registered"
        _audit(db, event, caller, definition.name, force=body.force)
        db.flush()
        state.catalogue = updated
    state.resolver.invalidate_provider(definition.name)
    return _public(updated, definition, set())


@router.delete("/providers/{name}")
def remove_provider(name: str, caller: AdminDep, state: StateDep) -> ProviderRemovedPublic:
    """Delete a custom provider (admins only); a bundled one of that name returns.

    Connections to it stay in their vaults, unused until a provider of that
    name exists again.
    """
    with state.catalogue_lock, transaction(state.sessions) as db:
        updated = state.catalogue.without_custom(name)
        row = db.get(CustomProvider, name)
        if row is not None:
            db.delete(row)
        restored = updated.is_bundled(name)
        _audit(db, "provider_removed", caller, name, restored_bundled=restored)
        db.flush()
        state.catalogue = updated
    state.resolver.invalidate_provider(name)
    return ProviderRemovedPublic(name=name, restored_bundled=restored)


def _audit(db: Session, event: str, caller: Caller, provider: str, **detail: bool) -> None:
    record_event(
        db,
        event,
        "success",
        identity=caller.handle,
        principal_id=caller.principal_id,
        provider=provider,
        detail=detail,
    )

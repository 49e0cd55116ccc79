"""Provider catalogue: list, inspect, register custom definitions."""

from __future__ import annotations

import json

from fastapi import APIRouter
from sqlalchemy import select

from authsome.audit.writer import record_event
from authsome.daemon.deps import AdminDep, CallerDep, StateDep
from authsome.daemon.schemas import ProviderPublic, ProviderRegistration
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
def get_provider(name: str, caller: CallerDep, state: StateDep) -> ProviderPublic:
    """One provider's public description."""
    catalogue = state.catalogue
    return _public(catalogue, catalogue.get(name), _connected(state, caller.vault_id))


@router.post("/providers", status_code=201)
def register_provider(
    body: ProviderRegistration, caller: AdminDep, state: StateDep
) -> ProviderPublic:
    """Validate and store a custom provider (admins only)."""
    raw = json.dumps(body.definition)
    definition = load_provider_json(raw, source="request body")
    with state.catalogue_lock, transaction(state.sessions) as db:
        updated = state.catalogue.with_custom(definition, force=body.force)
        db.merge(
            CustomProvider(name=definition.name, definition=raw, created_by=caller.principal_id)
        )
        record_event(
            db,
            "provider_registered",
            "success",
            identity=caller.handle,
            principal_id=caller.principal_id,
            provider=definition.name,
        )
        db.flush()
        state.catalogue = updated
    return _public(updated, definition, set())

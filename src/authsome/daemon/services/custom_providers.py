"""Custom provider definitions stored per deployment (admins only).

Both functions return the new catalogue; the caller swaps ``state.catalogue``
under ``state.catalogue_lock`` after the row is written, and drops cached
headers for that provider (a new definition may use another header).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.errors import InvalidProvider
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition, load_provider_json
from authsome.store.models import CustomProvider

SOURCE = "definition"


@dataclass(frozen=True)
class Saved:
    catalogue: ProviderCatalogue
    definition: ProviderDefinition


def field_errors(message: str) -> list[str]:
    """``InvalidProvider``'s one-line message split into one entry per field."""
    body = message.removeprefix(f"{SOURCE}: ")
    return [part.strip() for part in body.split("; ") if part.strip()]


def save_custom_provider(
    session: Session,
    catalogue: ProviderCatalogue,
    raw: str,
    *,
    force: bool,
    by: str,
    expected_name: str | None = None,
) -> Saved:
    """Validate ``raw`` (``InvalidProvider`` naming each field) and store it."""
    definition = load_provider_json(raw, source=SOURCE)
    if expected_name is not None and definition.name != expected_name:
        raise InvalidProvider(
            f"{SOURCE}: name: editing '{expected_name}' cannot rename it to '{definition.name}'"
        )
    replaced = catalogue.find(definition.name) is not None
    updated = catalogue.with_custom(definition, force=force)
    session.merge(CustomProvider(name=definition.name, definition=raw, created_by=by))
    record_event(
        session,
        "provider_updated" if replaced else "provider_registered",
        "success",
        principal_id=by,
        provider=definition.name,
        detail={"force": force, "via": "dashboard"},
    )
    session.flush()
    return Saved(updated, definition)


def stored_definition(session: Session, name: str) -> str | None:
    row = session.get(CustomProvider, name)
    return row.definition if row else None


def remove_custom_provider(
    session: Session, catalogue: ProviderCatalogue, name: str, *, by: str
) -> ProviderCatalogue:
    """Delete a custom provider; a bundled one of the same name takes effect again."""
    updated = catalogue.without_custom(name)
    row = session.get(CustomProvider, name)
    if row is not None:
        session.delete(row)
    record_event(
        session,
        "provider_removed",
        "success",
        principal_id=by,
        provider=name,
        detail={"restored_bundled": updated.is_bundled(name), "via": "dashboard"},
    )
    session.flush()
    return updated

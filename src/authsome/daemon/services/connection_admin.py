"""Inspecting a connection and choosing a provider's default one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services.connections import ActingFor, check_connection_name, find_connection
from authsome.errors import ConnectionNotFound
from authsome.store.models import Connection, ConnectionSecret, Vault


def get_connection(session: Session, vault: Vault, provider: str, name: str | None) -> Connection:
    """The named connection, or the provider's default when ``name`` is None."""
    if name is not None:
        check_connection_name(name)
    found = find_connection(session, vault.id, provider, name)
    if found is None:
        which = f"named {name!r}" if name else "yet"
        raise ConnectionNotFound(
            f"no {provider} connection {which}", hint="authsome connections list"
        )
    return found


def secret_field_names(session: Session, connection: Connection) -> list[str]:
    """Which secret fields are stored (``api_key``, ``access_token``, …), not their values."""
    query = select(ConnectionSecret.field).where(ConnectionSecret.connection_id == connection.id)
    return sorted(session.scalars(query))


def make_default(
    session: Session, vault: Vault, provider: str, name: str, *, actor: ActingFor
) -> Connection:
    """Make ``name`` the connection used for ``provider`` when none is named."""
    chosen = get_connection(session, vault, provider, name)
    siblings = select(Connection).where(
        Connection.vault_id == vault.id, Connection.provider == provider
    )
    for connection in session.scalars(siblings):
        connection.is_default = connection.id == chosen.id
    chosen.updated_at = datetime.now(UTC)
    record_event(
        session,
        "connection_default_set",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider,
        connection=name,
    )
    return chosen

"""Connections: credentials for one provider inside a vault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.crypto.envelope import FieldContext, open_field, seal_field
from authsome.daemon.services.ids import new_id
from authsome.daemon.services.instances import require_base_url
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import (
    ConnectionExists,
    ConnectionNotFound,
    CredentialUnavailable,
    InvalidInput,
    OperationNotAllowed,
)
from authsome.providers.schema import ProviderDefinition
from authsome.store.models import Connection, ConnectionSecret, Vault

CONNECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_SECRET_LENGTH = 16 * 1024


@dataclass(frozen=True)
class ActingFor:
    """The audit identity of whoever changes a vault (None: the principal, in the dashboard)."""

    identity: str | None
    principal_id: str


def check_connection_name(name: str) -> str:
    if not CONNECTION_NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            "connection names use lower-case letters, digits, '.', '_' and '-' (at most 63)"
        )
    return name


def find_connection(
    session: Session, vault_id: str, provider: str, name: str | None
) -> Connection | None:
    """The named connection, or the provider's default one when ``name`` is None."""
    query = select(Connection).where(
        Connection.vault_id == vault_id, Connection.provider == provider
    )
    if name is None:
        query = query.order_by(Connection.is_default.desc(), Connection.created_at)
    else:
        query = query.where(Connection.name == name)
    return session.scalars(query.limit(1)).first()


def store_api_key(
    session: Session,
    keys: VaultKeys,
    vault: Vault,
    provider: ProviderDefinition,
    *,
    name: str,
    api_key: str,
    force: bool,
    actor: ActingFor,
    base_url: str | None = None,
) -> Connection:
    """Seal ``api_key`` as connection ``name`` of ``provider``.

    ``base_url`` (already checked, ``instances.check_new_instance``) is the
    instance of a multi-tenant provider; a new key for an existing connection
    keeps its instance unless another is given.
    """
    check_connection_name(name)
    if provider.auth_type != "api_key" or provider.api_key is None:
        raise OperationNotAllowed(
            f"{provider.name} uses OAuth2, not an API key", hint=f"authsome login {provider.name}"
        )
    _check_key_shape(provider, api_key)
    existing = find_connection(session, vault.id, provider.name, name)
    if existing is not None and not force:
        raise ConnectionExists(
            f"{provider.name} already has a connection named {name!r}",
            hint=f"authsome login {provider.name} --connection {name} --force",
        )
    kept = base_url or (existing.base_url if existing is not None else None)
    require_base_url(provider, kept)
    now = datetime.now(UTC)
    connection = existing or Connection(
        id=new_id(),
        vault_id=vault.id,
        provider=provider.name,
        name=name,
        is_default=find_connection(session, vault.id, provider.name, None) is None,
        auth_type="api_key",
        created_at=now,
    )
    connection.status = "active"
    connection.updated_at = now
    connection.base_url = kept
    session.add(connection)
    session.flush()
    context = FieldContext(vault.id, provider.name, name, "api_key")
    sealed = seal_field(keys.data_key(vault), api_key.encode(), context)
    session.merge(ConnectionSecret(connection_id=connection.id, field="api_key", ciphertext=sealed))
    record_event(
        session,
        "login",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider.name,
        connection=name,
        detail={"flow": "api_key", "replaced": existing is not None}
        | ({"base_url": kept} if kept else {}),
    )
    return connection


def _check_key_shape(provider: ProviderDefinition, api_key: str) -> None:
    if not api_key or len(api_key) > MAX_SECRET_LENGTH:
        raise InvalidInput("the API key is empty or too long")
    if any(ch in api_key for ch in "\r\n\x00") or api_key != api_key.strip():
        raise InvalidInput("the API key contains whitespace or control characters")
    pattern = provider.api_key.key_pattern if provider.api_key else None
    if pattern and not re.fullmatch(pattern, api_key):
        raise InvalidInput(
            f"that does not look like a {provider.display_name} key (expected to match {pattern})",
        )


def remove_connection(
    session: Session, vault: Vault, provider: str, name: str, *, actor: ActingFor
) -> None:
    connection = find_connection(session, vault.id, provider, check_connection_name(name))
    if connection is None:
        raise ConnectionNotFound(f"no {provider} connection named {name!r}")
    was_default = connection.is_default
    session.delete(connection)
    session.flush()
    if was_default:
        successor = find_connection(session, vault.id, provider, None)
        if successor is not None:
            successor.is_default = True
    record_event(
        session,
        "logout",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider,
        connection=name,
    )


def set_default_connection(
    session: Session, vault_id: str, chosen: Connection, *, actor: ActingFor
) -> None:
    """Make ``chosen`` the connection used for its provider when none is named."""
    siblings = select(Connection).where(
        Connection.vault_id == vault_id, Connection.provider == chosen.provider
    )
    for connection in session.scalars(siblings):
        connection.is_default = connection.id == chosen.id
    record_event(
        session,
        "connection_default_set",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=chosen.provider,
        connection=chosen.name,
    )


def list_connections(session: Session, vault_id: str) -> list[Connection]:
    query = (
        select(Connection)
        .where(Connection.vault_id == vault_id)
        .order_by(Connection.provider, Connection.name)
    )
    return list(session.scalars(query))


def open_secret(
    session: Session, keys: VaultKeys, vault: Vault, connection: Connection, field: str
) -> str:
    """Decrypt one secret field (only for injection or audited reveal paths)."""
    row = session.get(ConnectionSecret, (connection.id, field))
    if row is None:
        raise CredentialUnavailable(
            f"{connection.provider}/{connection.name} has no {field}",
            hint=f"authsome login {connection.provider} --connection {connection.name} --force",
        )
    context = FieldContext(vault.id, connection.provider, connection.name, field)
    return open_field(keys.data_key(vault), row.ciphertext, context).decode()

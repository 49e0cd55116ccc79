"""OAuth connections: tokens sealed per field, and what refresh and revoke need.

A connection made by an OAuth login has ``auth_type="oauth2"``, sealed
``access_token`` and ``refresh_token`` rows in ``connection_secrets``, plain
``expires_at``/``scopes``/``account``, and one ``oauth_grants`` row with the
token and revocation endpoints and the client to use. Functions take a
``Session`` and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.crypto.envelope import FieldContext, open_field, seal_field
from authsome.daemon.services.connections import (
    ActingFor,
    check_connection_name,
    find_connection,
)
from authsome.daemon.services.ids import new_id
from authsome.daemon.services.oauth_clients import open_client
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import ConnectionExists
from authsome.flows.tokens import OAuthClient, TokenSet, unverified_id_token_claims
from authsome.providers.schema import ProviderDefinition
from authsome.store.models import (
    Connection,
    ConnectionSecret,
    OAuthClientRecord,
    OAuthGrant,
    Vault,
)

# Field names in connection_secrets, not secrets.
ACCESS_TOKEN = "access_token"  # noqa: S105
REFRESH_TOKEN = "refresh_token"  # noqa: S105
_ACCOUNT_CLAIMS = ("sub", "email", "name", "preferred_username")


def _seal(keys: VaultKeys, vault: Vault, connection: Connection, name: str, value: str) -> bytes:
    context = FieldContext(vault.id, connection.provider, connection.name, name)
    return seal_field(keys.data_key(vault), value.encode(), context)


def _put_secret(
    session: Session,
    keys: VaultKeys,
    vault: Vault,
    connection: Connection,
    name: str,
    value: str | None,
) -> None:
    if value is None:
        session.execute(
            delete(ConnectionSecret).where(
                ConnectionSecret.connection_id == connection.id, ConnectionSecret.field == name
            )
        )
        return
    sealed = _seal(keys, vault, connection, name, value)
    session.merge(ConnectionSecret(connection_id=connection.id, field=name, ciphertext=sealed))


def _account(tokens: TokenSet) -> dict[str, Any]:
    claims = unverified_id_token_claims(tokens.id_token)
    return {name: claims[name] for name in _ACCOUNT_CLAIMS if isinstance(claims.get(name), str)}


def store_oauth_connection(
    session: Session,
    keys: VaultKeys,
    vault: Vault,
    provider: ProviderDefinition,
    *,
    name: str,
    tokens: TokenSet,
    endpoints: dict[str, str | None],
    client_ref: str | None,
    requested_scopes: list[str],
    force: bool,
    flow: str,
    actor: ActingFor,
) -> Connection:
    """Create or (with ``force``) replace connection ``name`` from a token response."""
    check_connection_name(name)
    existing = find_connection(session, vault.id, provider.name, name)
    if existing is not None and not force:
        raise ConnectionExists(
            f"{provider.name} already has a connection named {name!r}",
            hint=f"authsome login {provider.name} --connection {name} --force",
        )
    now = datetime.now(UTC)
    connection = existing or Connection(
        id=new_id(),
        vault_id=vault.id,
        provider=provider.name,
        name=name,
        is_default=find_connection(session, vault.id, provider.name, None) is None,
        created_at=now,
    )
    connection.auth_type = "oauth2"
    connection.status = "active"
    connection.expires_at = tokens.expires_at
    connection.scopes = list(tokens.scope if tokens.scope is not None else requested_scopes)
    connection.account = _account(tokens)
    connection.updated_at = now
    session.add(connection)
    session.flush()
    session.execute(delete(ConnectionSecret).where(ConnectionSecret.connection_id == connection.id))
    _put_secret(session, keys, vault, connection, ACCESS_TOKEN, tokens.access_token)
    _put_secret(session, keys, vault, connection, REFRESH_TOKEN, tokens.refresh_token)
    session.merge(
        OAuthGrant(
            connection_id=connection.id,
            client_ref=client_ref,
            endpoints={k: v for k, v in endpoints.items() if v},
            lifetime_seconds=tokens.expires_in,
            refreshed_at=now,
            lease_until=None,
        )
    )
    record_event(
        session,
        "login",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider.name,
        connection=name,
        detail={"flow": flow, "replaced": existing is not None},
    )
    return connection


@dataclass(frozen=True)
class GrantState:
    """One OAuth connection as a refresh sees it; secrets never show in a repr."""

    connection_id: str
    vault_id: str
    provider: str
    name: str
    status: str
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    refresh_blob: bytes | None = field(repr=False)
    expires_at: datetime | None
    lifetime: timedelta | None
    endpoints: dict[str, Any]
    client: OAuthClient | None = field(repr=False)
    refreshed_at: datetime | None


def _open(
    session: Session, keys: VaultKeys, vault: Vault, connection: Connection, name: str
) -> tuple[str | None, bytes | None]:
    row = session.get(ConnectionSecret, (connection.id, name))
    if row is None:
        return None, None
    context = FieldContext(vault.id, connection.provider, connection.name, name)
    return open_field(keys.data_key(vault), row.ciphertext, context).decode(), row.ciphertext


def load_grant(
    session: Session, keys: VaultKeys, master_key: bytes, vault: Vault, connection: Connection
) -> GrantState:
    """Open an OAuth connection's tokens and its client (``None`` if the client is gone)."""
    grant = session.get(OAuthGrant, connection.id)
    access, _ = _open(session, keys, vault, connection, ACCESS_TOKEN)
    refresh, blob = _open(session, keys, vault, connection, REFRESH_TOKEN)
    client = None
    if grant is not None and grant.client_ref is not None:
        row = session.get(OAuthClientRecord, grant.client_ref)
        client = open_client(session, master_key, row).client if row is not None else None
    lifetime = grant.lifetime_seconds if grant is not None else None
    return GrantState(
        connection_id=connection.id,
        vault_id=vault.id,
        provider=connection.provider,
        name=connection.name,
        status=connection.status,
        access_token=access,
        refresh_token=refresh,
        refresh_blob=blob,
        expires_at=connection.expires_at,
        lifetime=timedelta(seconds=lifetime) if lifetime else None,
        endpoints=dict(grant.endpoints) if grant is not None else {},
        client=client,
        refreshed_at=grant.refreshed_at if grant is not None else None,
    )


def acquire_lease(session: Session, connection_id: str, *, now: datetime, seconds: float) -> bool:
    """Claim the right to refresh this connection (one process at a time)."""
    result = session.execute(
        update(OAuthGrant)
        .where(
            OAuthGrant.connection_id == connection_id,
            or_(OAuthGrant.lease_until.is_(None), OAuthGrant.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=seconds))
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def release_lease(session: Session, connection_id: str) -> None:
    session.execute(
        update(OAuthGrant).where(OAuthGrant.connection_id == connection_id).values(lease_until=None)
    )


def save_refreshed(session: Session, keys: VaultKeys, state: GrantState, tokens: TokenSet) -> bool:
    """Store a refresh's tokens together, unless the connection changed meanwhile.

    The access token, a rotated refresh token and the new expiry are written
    in one transaction, before anyone is given the new token. Returns False
    (and writes nothing) when the refresh token is no longer the one the
    refresh used: a new login replaced it.
    """
    connection = session.get(Connection, state.connection_id)
    vault = session.get(Vault, state.vault_id)
    if connection is None or vault is None:
        return False
    current = session.get(ConnectionSecret, (connection.id, REFRESH_TOKEN))
    if (current.ciphertext if current else None) != state.refresh_blob:
        release_lease(session, connection.id)
        return False
    now = datetime.now(UTC)
    _put_secret(session, keys, vault, connection, ACCESS_TOKEN, tokens.access_token)
    _put_secret(session, keys, vault, connection, REFRESH_TOKEN, tokens.refresh_token)
    connection.expires_at = tokens.expires_at
    if tokens.scope is not None:
        connection.scopes = list(tokens.scope)
    connection.status = "active"
    connection.updated_at = now
    grant = session.get(OAuthGrant, connection.id)
    if grant is not None:
        grant.refreshed_at = now
        grant.lifetime_seconds = tokens.expires_in
        grant.lease_until = None
    record_event(
        session,
        "refresh",
        "success",
        principal_id=vault.principal_id,
        provider=connection.provider,
        connection=connection.name,
        detail={"rotated": tokens.refresh_token != state.refresh_token},
    )
    return True


def mark_needs_login(session: Session, state: GrantState, *, reason: str) -> None:
    """The refresh token is dead: the connection waits for a new login."""
    connection = session.get(Connection, state.connection_id)
    vault = session.get(Vault, state.vault_id)
    if connection is None or vault is None:
        return
    connection.status = "needs_login"
    connection.updated_at = datetime.now(UTC)
    release_lease(session, connection.id)
    record_event(
        session,
        "refresh_failed",
        "failure",
        principal_id=vault.principal_id,
        provider=connection.provider,
        connection=connection.name,
        detail={"reason": reason},
    )

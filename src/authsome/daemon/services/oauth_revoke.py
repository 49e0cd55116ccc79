"""Revoking OAuth tokens at the provider (RFC 7009) when connections go away.

``authsome logout`` revokes one connection's tokens, then removes it;
``authsome provider revoke`` (admins) does so for every connection of a
provider in every vault and also forgets the provider's clients (asking the
server to delete the ones Authsome registered, RFC 7592). Revocation is
best effort: a provider that is down does not keep a connection alive, and
the outcome is audited (``token_revoked``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import record_event
from authsome.daemon.services.connections import ActingFor, remove_connection
from authsome.daemon.services.oauth_clients import open_client, provider_clients
from authsome.daemon.services.oauth_connections import load_grant
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import AuthsomeError
from authsome.flows.dcr import RegisteredClient, delete_registration
from authsome.flows.http import OutboundHttp
from authsome.flows.revoke import TokenHint, revoke_token
from authsome.flows.tokens import OAuthClient
from authsome.store.db import transaction
from authsome.store.models import Connection, Vault

log = logging.getLogger("authsome.oauth")


@dataclass(frozen=True)
class Revocation:
    """What revoking one connection needs, read before the connection is removed."""

    vault_id: str
    principal_id: str
    provider: str
    connection: str
    url: str
    client: OAuthClient = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_token: str | None = field(repr=False)


def revocation_for(
    session: Session, keys: VaultKeys, master_key: bytes, vault: Vault, connection: Connection
) -> Revocation | None:
    """``None`` for API keys and providers without a revocation endpoint."""
    if connection.auth_type != "oauth2":
        return None
    state = load_grant(session, keys, master_key, vault, connection)
    url = state.endpoints.get("revocation")
    if not url or state.client is None:
        return None
    return Revocation(
        vault.id,
        vault.principal_id,
        connection.provider,
        connection.name,
        url,
        state.client,
        state.refresh_token,
        state.access_token,
    )


async def revoke(
    outbound: OutboundHttp, sessions: sessionmaker[Session], revocation: Revocation
) -> bool:
    """Revoke the refresh token (ends the grant at most servers) and the access token."""
    ok = True
    tokens: tuple[tuple[str | None, TokenHint], ...] = (
        (revocation.refresh_token, "refresh_token"),
        (revocation.access_token, "access_token"),
    )
    async with outbound.client() as http:
        for token, hint in tokens:
            if token is None:
                continue
            try:
                await revoke_token(http, revocation.url, revocation.client, token, hint=hint)
            except AuthsomeError as exc:
                ok = False
                log.warning("revoking a %s token failed: %s", revocation.provider, exc.message)
    await asyncio.to_thread(_audit, sessions, revocation, ok)
    return ok


def _audit(sessions: sessionmaker[Session], revocation: Revocation, ok: bool) -> None:
    with transaction(sessions) as db:
        record_event(
            db,
            "token_revoked",
            "success" if ok else "failure",
            principal_id=revocation.principal_id,
            provider=revocation.provider,
            connection=revocation.connection,
        )


@dataclass
class ProviderRevoked:
    """Counts for ``authsome provider revoke``."""

    provider: str
    connections: int = 0
    revoked: int = 0
    revocation_failures: int = 0
    clients: int = 0


async def revoke_provider(
    *,
    provider: str,
    sessions: sessionmaker[Session],
    keys: VaultKeys,
    master_key: bytes,
    outbound: OutboundHttp,
    actor: ActingFor,
) -> tuple[ProviderRevoked, set[str]]:
    """Revoke and remove every connection and client of ``provider``; returns touched vaults."""
    result = ProviderRevoked(provider)
    plans, registrations = await asyncio.to_thread(_collect, sessions, keys, master_key, provider)
    for revocation in plans:
        if revocation is None:
            continue
        if await revoke(outbound, sessions, revocation):
            result.revoked += 1
        else:
            result.revocation_failures += 1
    async with outbound.client() as http:
        for registration in registrations:
            try:
                await delete_registration(http, registration)
            except AuthsomeError as exc:
                log.warning("deleting a %s client registration failed: %s", provider, exc.message)
    vaults = await asyncio.to_thread(_remove_all, sessions, provider, actor, result)
    return result, vaults


def _collect(
    sessions: sessionmaker[Session], keys: VaultKeys, master_key: bytes, provider: str
) -> tuple[list[Revocation | None], list[RegisteredClient]]:
    with transaction(sessions) as db:
        plans: list[Revocation | None] = []
        for connection in db.scalars(select(Connection).where(Connection.provider == provider)):
            vault = db.get(Vault, connection.vault_id)
            if vault is not None:
                plans.append(revocation_for(db, keys, master_key, vault, connection))
        registrations = [
            opened.registration
            for row in provider_clients(db, provider)
            if (opened := open_client(db, master_key, row)).registration is not None
        ]
        return plans, [r for r in registrations if r is not None]


def _remove_all(
    sessions: sessionmaker[Session], provider: str, actor: ActingFor, result: ProviderRevoked
) -> set[str]:
    with transaction(sessions) as db:
        vaults: set[str] = set()
        for connection in list(
            db.scalars(select(Connection).where(Connection.provider == provider))
        ):
            vault = db.get(Vault, connection.vault_id)
            if vault is None:
                continue
            remove_connection(db, vault, provider, connection.name, actor=actor)
            vaults.add(vault.id)
            result.connections += 1
        for client in provider_clients(db, provider):
            db.delete(client)
            result.clients += 1
        record_event(
            db,
            "provider_revoked",
            "success",
            identity=actor.identity,
            principal_id=actor.principal_id,
            provider=provider,
            detail={
                "connections": result.connections,
                "revoked": result.revoked,
                "revocation_failures": result.revocation_failures,
                "clients": result.clients,
            },
        )
        return vaults

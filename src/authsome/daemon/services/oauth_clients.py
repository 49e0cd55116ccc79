"""ClientCredentials (DESIGN §1): OAuth clients of providers, shared by the deployment.

A client is either brought by a user (``source="user"``: id and secret
entered in the daemon's browser form or at a masked prompt) or registered
by Authsome itself (``source="dcr"``, RFC 7591). Secrets are sealed with the
deployment's ``oauth`` data key, which the master key wraps like a vault's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.crypto.envelope import (
    FieldContext,
    new_data_key,
    open_field,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
)
from authsome.daemon.services.connections import ActingFor
from authsome.daemon.services.ids import new_id
from authsome.errors import InvalidInput
from authsome.flows.dcr import RegisteredClient
from authsome.flows.tokens import AuthMethod, OAuthClient
from authsome.store.models import DeploymentKey, OAuthClientRecord

OAUTH_KEY = "oauth"
_DEPLOYMENT_SCOPE = "deployment"
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,512}")
_MAX_SECRET = 4096
_AUTH_METHODS: frozenset[str] = frozenset({"client_secret_basic", "client_secret_post", "none"})


def deployment_data_key(session: Session, master_key: bytes, name: str = OAUTH_KEY) -> bytes:
    """The deployment-wide data key ``name``, created on first use."""
    scope = f"{_DEPLOYMENT_SCOPE}:{name}"
    row = session.get(DeploymentKey, name)
    if row is not None:
        return unwrap_data_key(master_key, row.wrapped_data_key, vault_id=scope)
    key = new_data_key()
    session.add(
        DeploymentKey(name=name, wrapped_data_key=wrap_data_key(master_key, key, vault_id=scope))
    )
    session.flush()
    return key


def _context(row: OAuthClientRecord, field: str) -> FieldContext:
    return FieldContext(_DEPLOYMENT_SCOPE, row.provider, f"client/{row.id}", field)


def check_client_input(client_id: str, client_secret: str | None) -> tuple[str, str | None]:
    """Validate what a user typed; the secret may be empty (a public client)."""
    client_id = client_id.strip()
    if not _CLIENT_ID.fullmatch(client_id):
        raise InvalidInput("the client id must be 1 to 512 printable characters without spaces")
    secret = (client_secret or "").strip() or None
    if secret is not None and (len(secret) > _MAX_SECRET or not secret.isprintable()):
        raise InvalidInput("the client secret is too long or contains control characters")
    return client_id, secret


def find_client(
    session: Session, provider: str, base_url: str, source: str
) -> OAuthClientRecord | None:
    query = select(OAuthClientRecord).where(
        OAuthClientRecord.provider == provider,
        OAuthClientRecord.base_url == base_url,
        OAuthClientRecord.source == source,
    )
    return session.scalars(query).first()


def _upsert(session: Session, provider: str, base_url: str, source: str) -> OAuthClientRecord:
    row = find_client(session, provider, base_url, source)
    if row is None:
        row = OAuthClientRecord(
            id=new_id(), provider=provider, base_url=base_url, source=source, auth_method="none"
        )
        session.add(row)
    row.created_at = datetime.now(UTC)
    return row


def save_user_client(
    session: Session,
    master_key: bytes,
    *,
    provider: str,
    base_url: str,
    client_id: str,
    client_secret: str | None,
    actor: ActingFor,
) -> OAuthClientRecord:
    """Store (or replace) the client a user brought for ``provider``."""
    client_id, secret = check_client_input(client_id, client_secret)
    row = _upsert(session, provider, base_url, "user")
    row.client_id = client_id
    row.auth_method = "client_secret_basic" if secret else "none"
    row.created_by = actor.principal_id
    session.flush()
    key = deployment_data_key(session, master_key)
    row.sealed_secret = (
        seal_field(key, secret.encode(), _context(row, "client_secret")) if secret else None
    )
    record_event(
        session,
        "client_registered",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider,
        detail={"source": "user", "confidential": secret is not None},
    )
    return row


def save_registered_client(
    session: Session,
    master_key: bytes,
    *,
    provider: str,
    base_url: str,
    issuer: str,
    redirect_uri: str,
    registered: RegisteredClient,
    actor: ActingFor,
) -> OAuthClientRecord:
    """Store a client Authsome registered (RFC 7591) for reuse by later logins."""
    row = _upsert(session, provider, base_url, "dcr")
    row.client_id = registered.client_id
    row.auth_method = (
        registered.token_endpoint_auth_method
        if registered.token_endpoint_auth_method in _AUTH_METHODS
        else "none"
    )
    row.issuer = issuer
    row.redirect_uri = redirect_uri
    row.registration_uri = registered.registration_client_uri
    row.created_by = actor.principal_id
    session.flush()
    key = deployment_data_key(session, master_key)
    secret, token = registered.client_secret, registered.registration_access_token
    row.sealed_secret = (
        seal_field(key, secret.encode(), _context(row, "client_secret")) if secret else None
    )
    row.sealed_registration_token = (
        seal_field(key, token.encode(), _context(row, "registration_token")) if token else None
    )
    record_event(
        session,
        "client_registered",
        "success",
        identity=actor.identity,
        principal_id=actor.principal_id,
        provider=provider,
        detail={"source": "dcr", "issuer": issuer},
    )
    return row


@dataclass(frozen=True)
class OpenedClient:
    """A stored client with its secrets opened, ready for a flow."""

    ref: str
    client: OAuthClient
    registration: RegisteredClient | None


def open_client(session: Session, master_key: bytes, row: OAuthClientRecord) -> OpenedClient:
    key = deployment_data_key(session, master_key)
    secret = (
        open_field(key, row.sealed_secret, _context(row, "client_secret")).decode()
        if row.sealed_secret
        else None
    )
    method = cast(AuthMethod, row.auth_method if row.auth_method in _AUTH_METHODS else "none")
    client = OAuthClient(row.client_id, secret, method)
    registration = None
    if row.source == "dcr":
        token = (
            open_field(
                key, row.sealed_registration_token, _context(row, "registration_token")
            ).decode()
            if row.sealed_registration_token
            else None
        )
        registration = RegisteredClient(
            client_id=row.client_id,
            registration_access_token=token,
            registration_client_uri=row.registration_uri,
        )
    return OpenedClient(row.id, client, registration)


def provider_clients(session: Session, provider: str) -> list[OAuthClientRecord]:
    query = select(OAuthClientRecord).where(OAuthClientRecord.provider == provider)
    return list(session.scalars(query.order_by(OAuthClientRecord.created_at)))

"""Tables (DESIGN §1, §5, §6). Portable SQL: SQLite now, PostgreSQL in team mode.

Secret values live only in ``connection_secrets.ciphertext`` and
``vaults.wrapped_data_key``, sealed by ``authsome.crypto``. Everything else
stays plain so it can be queried.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Deployment(Base):
    """One row: this deployment's id and the master-key check value."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(64), unique=True)
    key_check: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Principal(Base):
    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handle: Mapped[str] = mapped_column(String(96), unique=True)
    did: Mapped[str] = mapped_column(String(128))
    jkt: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_from: Mapped[str | None] = mapped_column(String(255), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # The grant its principal gave it (DESIGN §2b): all providers or a list,
    # and whether raw secrets may be revealed to it (off by default).
    grant_all_providers: Mapped[bool] = mapped_column(Boolean, default=True)
    grant_providers: Mapped[list[str]] = mapped_column(default=list)
    grant_reveal: Mapped[bool] = mapped_column(Boolean, default=False)


class Claim(Base):
    """Binds an identity to a principal; only the token's hash is stored."""

    __tablename__ = "claims"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_claims_identity", "identity_id"),)


class Vault(Base):
    __tablename__ = "vaults"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    account: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    # The instance of a multi-tenant provider an API-key connection belongs to
    # (``login --base-url``); OAuth connections keep it in oauth_grants.endpoints.
    base_url: Mapped[str | None] = mapped_column(String(2048), default=None)

    __table_args__ = (UniqueConstraint("vault_id", "provider", "name", name="uq_connection_name"),)


class ConnectionSecret(Base):
    """One sealed secret field of a connection (api_key, access_token, …)."""

    __tablename__ = "connection_secrets"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class CustomProvider(Base):
    __tablename__ = "custom_providers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditEvent(Base):
    """DESIGN §6. ``prev_hash``/``hash`` link the events (``authsome.audit.chain``)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(48))
    outcome: Mapped[str] = mapped_column(String(16))
    identity: Mapped[str | None] = mapped_column(String(96), default=None)
    principal_id: Mapped[str | None] = mapped_column(String(64), default=None)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    connection: Mapped[str | None] = mapped_column(String(64), default=None)
    method: Mapped[str | None] = mapped_column(String(16), default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    path: Mapped[str | None] = mapped_column(String(2048), default=None)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (
        Index("ix_audit_ts", "ts"),
        Index("ix_audit_principal_ts", "principal_id", "ts"),
        # One per filter of GET /audit/events, ending in id: pages go newest first.
        Index("ix_audit_event_id", "event", "id"),
        Index("ix_audit_provider_id", "provider", "id"),
        Index("ix_audit_identity_id", "identity", "id"),
        Index("ix_audit_outcome_id", "outcome", "id"),
        Index("ix_audit_host_id", "host", "id"),
        Index("ix_audit_principal_id", "principal_id", "id"),
        Index(
            "ix_audit_ts_cover",
            *("ts", "outcome", "event", "provider", "identity", "host", "principal_id"),
        ),
    )


class DashboardSettings(Base):
    """One row (``id`` 1): deployment-wide switches of the dashboard.

    ``first_principal_id`` is set by a conditional UPDATE when the first
    principal is created, so two concurrent first registrations cannot both
    become admin (on SQLite and on PostgreSQL alike).
    """

    __tablename__ = "dashboard_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_open: Mapped[bool] = mapped_column(Boolean, default=False)
    first_principal_id: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser; only the cookie token's hash is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    client: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)

    __table_args__ = (Index("ix_web_sessions_principal", "principal_id"),)


class SignInThrottle(Base):
    """Failed sign-ins per email (hashed) or per client address."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)


class Invite(Base):
    """A single-use, expiring registration link; only the token's hash is stored."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_by: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_by: Mapped[str | None] = mapped_column(String(64), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class DeploymentKey(Base):
    """A deployment-wide data key, wrapped by the master key like a vault's.

    ``oauth`` seals the secrets of ClientCredentials, which belong to the
    deployment rather than to one vault. Rotating the master key re-wraps
    these keys too.
    """

    __tablename__ = "deployment_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthClientRecord(Base):
    """ClientCredentials (DESIGN §1): an OAuth client of a provider, shared by the deployment.

    ``source`` is ``user`` (id and secret the user brought) or ``dcr``
    (registered by Authsome, RFC 7591). ``base_url`` is the tenant for
    multi-tenant providers ("" for the provider's default). Secrets are
    sealed with the ``oauth`` deployment key.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2048), default="")
    source: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(512))
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    auth_method: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str | None] = mapped_column(String(2048), default=None)
    redirect_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    registration_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    sealed_registration_token: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (UniqueConstraint("provider", "base_url", "source", name="uq_oauth_client"),)


class OAuthGrant(Base):
    """How to refresh and revoke an OAuth connection's tokens (one row per connection).

    The tokens themselves are ``connection_secrets`` rows (``access_token``,
    ``refresh_token``). ``endpoints`` holds plain URLs and values resolved at
    login (token, revocation, issuer, resource, base_url). ``lease_until``
    marks a refresh in progress, so that only one process refreshes.
    """

    __tablename__ = "oauth_grants"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    client_ref: Mapped[str | None] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="SET NULL"), default=None
    )
    endpoints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lifetime_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class AuthSession(Base):
    """One OAuth login in flight (DESIGN §8: in the database, so any replica
    or a restarted daemon can finish it).

    ``state_hash`` and ``form_token_hash`` are SHA-256 of bearer values that
    travel in URLs. ``sealed_verifier`` (PKCE) and ``sealed_device_code``
    are sealed with the vault's data key and cleared once the session ends.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    identity_id: Mapped[str] = mapped_column(String(64))
    identity_handle: Mapped[str] = mapped_column(String(96))
    principal_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    connection: Mapped[str] = mapped_column(String(64))
    flow: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    endpoints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_ref: Mapped[str | None] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="SET NULL"), default=None
    )
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    form_token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    sealed_verifier: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    sealed_device_code: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    user_code: Mapped[str | None] = mapped_column(String(64), default=None)
    interval: Mapped[int | None] = mapped_column(Integer, default=None)
    next_poll_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(48), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_auth_sessions_expires", "expires_at"),)


class PopReplay(Base):
    """A PoP proof's ``jti`` already accepted (team mode: shared by every replica).

    The primary key is the insert-or-fail: a second replica inserting the same
    ``jti_hash`` gets nothing inserted and refuses the proof. Rows are pruned
    once ``expires_at`` passes (the proof's ``iat`` window has closed by then).
    """

    __tablename__ = "pop_replay"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_pop_replay_expires", "expires_at"),)


class SharedChange(Base):
    """A change one replica made that other replicas' in-memory state must follow.

    ``kind`` ``connection`` (``vault_id`` + ``provider``: drop cached headers),
    ``provider`` (a definition changed: drop its headers in every vault),
    ``identity`` (a grant changed or the identity was revoked: live runs
    follow). ``origin`` is the writing replica, which skips its own rows.
    """

    __tablename__ = "shared_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(32))
    vault_id: Mapped[str | None] = mapped_column(String(64), default=None)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    identity_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_shared_changes_created", "created_at"),)


class RunSession(Base):
    """A live `authsome run`, kept where every replica can find it (team mode).

    `run --local-proxy` against a shared daemon calls ``/runs/{id}/…`` for
    decisions and credentials, and a load balancer may hand each call to any
    replica. The run token itself is never stored; its proxy is the starting
    replica's. ``ended_at`` is set when the run ends (the row is then kept
    only until pruned).
    """

    __tablename__ = "run_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    identity_handle: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[str] = mapped_column(String(64))
    vault_id: Mapped[str] = mapped_column(String(64))
    connections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    providers: Mapped[list[str] | None] = mapped_column(default=None)
    deny_unmatched: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_run_sessions_identity", "identity_id"),)

"""Raw secrets out of the vault: the audited reveal and export paths (DESIGN §2b).

A secret leaves the daemon only when one of two things holds:

- the caller's grant allows the provider and ``reveal`` (``grants.require_reveal``);
- the caller re-enters its principal's password (rate limited like any
  sign-in). The principal is then present and acting, so its identity's
  grant does not limit what it may see in its own vault.

Every success is audited (``reveal`` or ``export``) with the fields that
left, never their values; every refusal is a ``denied`` or ``failure`` event.
Refresh tokens leave only when asked for by name (``include_refresh``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import AuditBatcher, record_event
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connections import list_connections, open_secret
from authsome.daemon.services.grants import require_reveal
from authsome.daemon.services.principals import sign_in
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import (
    AuthenticationFailed,
    AuthsomeError,
    OperationNotAllowed,
)
from authsome.providers.schema import PAIR_SOURCES, ProviderDefinition, pair_part
from authsome.store.models import Connection, ConnectionSecret, Vault

#: The field an agent uses as "the" credential, in order of preference.
PRIMARY_FIELDS = ("access_token", "api_key")
REFRESH_FIELD = "refresh_token"


@dataclass(frozen=True)
class Revealed:
    """One connection's secret fields, decrypted. ``repr`` never shows them."""

    provider: str
    connection: str
    auth_type: str
    expires_at: datetime | None
    fields: dict[str, str] = field(repr=False)

    @property
    def primary(self) -> str | None:
        for name in PRIMARY_FIELDS:
            if name in self.fields:
                return self.fields[name]
        return None


@dataclass(frozen=True)
class Refused:
    """A refusal to raise once its audit event and throttle counters are committed."""

    error: AuthsomeError


def authorize(
    session: Session,
    audit: AuditBatcher,
    caller: Caller,
    providers: Iterable[str],
    *,
    password: str | None,
    client: str | None,
    action: str,
) -> str | Refused:
    """``"password"`` or ``"grant"``: how the caller may see these providers' secrets."""
    if password is None:
        names = list(providers)
        if not names:
            _require_reveal_flag(audit, caller, action=action)
        for provider in names:
            require_reveal(audit, caller, provider, action=action)
        return "grant"
    if caller.email is None:
        return Refused(AuthenticationFailed("this identity has no principal to sign in as"))
    signed_in = sign_in(session, caller.email, password, client=client, via=action)
    if signed_in.principal is None or signed_in.principal.id != caller.principal_id:
        record_event(
            session,
            action,
            "denied",
            identity=caller.handle,
            principal_id=caller.principal_id,
            detail={"reason": "password"},
        )
        return Refused(signed_in.error())
    return "password"


def _require_reveal_flag(audit: AuditBatcher, caller: Caller, *, action: str) -> None:
    if caller.grant.reveal:
        return
    audit.add(
        action,
        "denied",
        identity=caller.handle,
        principal_id=caller.principal_id,
        detail={"reason": "reveal not granted"},
    )
    raise OperationNotAllowed(
        "this agent's grant does not allow revealing secrets",
        hint="re-enter your password with --password-stdin, or ask your principal to allow reveal",
    )


def open_connection(
    session: Session,
    keys: VaultKeys,
    vault: Vault,
    connection: Connection,
    *,
    include_refresh: bool,
) -> Revealed:
    """Decrypt every secret field of ``connection`` (the refresh token only if asked)."""
    names = session.scalars(
        select(ConnectionSecret.field).where(ConnectionSecret.connection_id == connection.id)
    )
    wanted = sorted(name for name in names if include_refresh or name != REFRESH_FIELD)
    return Revealed(
        provider=connection.provider,
        connection=connection.name,
        auth_type=connection.auth_type,
        expires_at=connection.expires_at,
        fields={name: open_secret(session, keys, vault, connection, name) for name in wanted},
    )


def record_revealed(
    session: Session, caller: Caller, revealed: Revealed, *, action: str, via: str
) -> None:
    record_event(
        session,
        action,
        "success",
        identity=caller.handle,
        principal_id=caller.principal_id,
        provider=revealed.provider,
        connection=revealed.connection,
        detail={"via": via, "fields": sorted(revealed.fields)},
    )


def export_candidates(
    session: Session, vault: Vault, caller: Caller, *, via: str
) -> list[Connection]:
    """Each provider's default connection that this caller may export."""
    chosen = [c for c in list_connections(session, vault.id) if c.is_default]
    if via == "grant":
        chosen = [c for c in chosen if caller.grant.allows_provider(c.provider)]
    return chosen


def _env_prefix(provider: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", provider.upper()).strip("_")


def export_variables(definition: ProviderDefinition | None, revealed: Revealed) -> dict[str, str]:
    """The environment variables a provider's SDK reads, filled from ``revealed``.

    The provider's ``export`` map (``{"ACME_TOKEN": "ACCESS_TOKEN"}``) and its
    ``api_key.env_var`` come first; a field none of them names is exported as
    ``<PROVIDER>_<FIELD>``. ``API_KEY_USER`` and ``API_KEY_PASSWORD`` name the
    halves of a ``user:secret`` API key; a key without a colon has no halves,
    so it is exported whole under the fallback name instead.
    """
    found: dict[str, str] = {}
    covered: set[str] = set()
    mapping = dict((definition.export or {}) if definition else {})
    if definition and definition.api_key and definition.api_key.env_var:
        mapping.setdefault(definition.api_key.env_var, "API_KEY")
    for variable, source in mapping.items():
        field_name = "api_key" if source in PAIR_SOURCES else source.lower()
        value = revealed.fields.get(field_name)
        if value is not None and source in PAIR_SOURCES:
            value = pair_part(value, source)
        if value is not None:
            found[variable] = value
            covered.add(field_name)
    for name, value in revealed.fields.items():
        if name not in covered:
            found[f"{_env_prefix(revealed.provider)}_{name.upper()}"] = value
    return found

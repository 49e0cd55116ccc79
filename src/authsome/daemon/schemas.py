"""Request and response bodies, named by role.

``*Public`` models carry no secret fields at all; secrets only ever travel
inward (``ApiKeyLogin.api_key``), as ``SecretStr`` so they never show in a repr.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthPublic(BaseModel):
    status: str
    service: str
    version: str
    deployment_id: str


class ReadyPublic(BaseModel):
    ready: bool
    checks: dict[str, str]
    #: When the proxy CA expires (ISO 8601, UTC); `doctor` warns 30 days before.
    proxy_ca_not_after: str | None = None


class IdentityPublic(BaseModel):
    handle: str
    did: str
    jkt: str
    status: str
    principal_id: str | None = None
    claim_url: str | None = None
    claim_state: str | None = None  # pending / accepted / rejected / expired
    claim_expires_at: datetime | None = None


class HeadlessClaim(Strict):
    email: str = Field(max_length=320)
    password: SecretStr = Field(max_length=1024)


class GrantPublic(BaseModel):
    all_providers: bool
    providers: list[str]
    reveal: bool


class WhoamiPublic(BaseModel):
    handle: str
    status: str
    principal_id: str | None
    email: str | None
    role: str | None
    vault_id: str | None
    deployment_id: str
    key_source: str | None = None  # where the daemon's master key came from
    grant: GrantPublic | None = None


class ProviderPublic(BaseModel):
    name: str
    display_name: str
    auth_type: str
    flow: str
    api_url: list[str]
    env_var: str | None
    bundled: bool
    connected: bool = False
    description: str | None = None
    overrides_bundled: bool = False  # a custom definition standing in for a bundled one
    injection: str = "proxy"  # proxy | unsupported


class ProviderDetailPublic(ProviderPublic):
    """One provider with its whole definition (provider files hold no secrets)."""

    header: str | None  # e.g. "Authorization: Bearer <key>"; None when not injected
    definition: dict[str, Any]


class ProviderRemovedPublic(BaseModel):
    name: str
    restored_bundled: bool  # a bundled provider of that name is in effect again


class ProviderRegistration(Strict):
    definition: dict[str, Any]
    force: bool = False


class ApiKeyLogin(Strict):
    provider: str = Field(max_length=64)
    connection: str = Field("default", max_length=64)
    api_key: SecretStr = Field(max_length=16 * 1024)
    force: bool = False
    #: The instance of a multi-tenant provider (a Shopify shop, an Atlassian site).
    base_url: str | None = Field(None, max_length=2048)


class ConnectionPublic(BaseModel):
    provider: str
    name: str
    is_default: bool
    auth_type: str
    status: str
    expires_at: datetime | None
    scopes: list[str]
    account: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RunRequest(Strict):
    connections: dict[str, str] = Field(default_factory=dict)
    providers: list[str] | None = None
    deny_unmatched: bool = False


class RunPublic(BaseModel):
    """The one response that carries a run token: it is the child's proxy password."""

    run_id: str
    token: str
    proxy_host: str
    proxy_port: int
    ca_pem: str
    env: dict[str, str]


class ResolveRequest(Strict):
    url: str = Field(max_length=8192)
    method: str = Field("GET", max_length=16)
    connection: str | None = Field(None, max_length=64)


class ResolvePublic(BaseModel):
    """Carries credential headers: returned only by the audited resolve route."""

    provider: str | None
    connection: str | None
    headers: dict[str, str]


# --- reveal, export, inspection, doctor, scan, grants -------------------------------

#: A secret on its way out of the audited reveal/export routes: masked in
#: ``repr`` and logs, written in full only into the JSON response.
RevealedStr = Annotated[
    SecretStr, PlainSerializer(lambda v: v.get_secret_value(), return_type=str, when_used="json")
]


class RevealRequest(Strict):
    provider: str = Field(max_length=64)
    connection: str | None = Field(None, max_length=64)
    include_refresh: bool = False
    password: SecretStr | None = Field(None, max_length=1024)


class RevealedSecrets(BaseModel):
    """Raw secret fields of one connection: only from ``POST /reveal``, audited."""

    provider: str
    connection: str
    auth_type: str
    expires_at: datetime | None
    fields: dict[str, RevealedStr]


class ExportRequest(Strict):
    provider: str | None = Field(None, max_length=64)
    connection: str | None = Field(None, max_length=64)
    include_refresh: bool = False
    password: SecretStr | None = Field(None, max_length=1024)


class ExportedConnection(BaseModel):
    provider: str
    connection: str
    variables: dict[str, RevealedStr]


class ExportedSecrets(BaseModel):
    """Environment variables with raw secrets: only from ``POST /export``, audited."""

    items: list[ExportedConnection]


class ConnectionDetailsPublic(ConnectionPublic):
    secret_fields: list[str]  # names of the stored fields, never their values
    last_used_at: datetime | None


class DoctorCheckPublic(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str | None = None


class DoctorPublic(BaseModel):
    version: str
    checks: list[DoctorCheckPublic]


class ScanRulePublic(BaseModel):
    """How to recognise one API-key provider's keys in a .env file."""

    provider: str
    variables: list[str]
    key_pattern: str | None


class ScanItem(Strict):
    provider: str = Field(max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ScanCompareRequest(Strict):
    items: list[ScanItem] = Field(max_length=1000)


class ScanResultPublic(BaseModel):
    provider: str
    sha256: str
    status: str  # new | same | differs
    connection: str | None  # the matching connection when ``same``


class GrantUpdate(Strict):
    password: SecretStr = Field(max_length=1024)
    all_providers: bool = True
    providers: list[str] = Field(default_factory=list, max_length=500)
    reveal: bool = False


class IdentityGrantPublic(GrantPublic):
    handle: str


class AuditEventPublic(BaseModel):
    """One audit event (DESIGN §6); events never hold secrets, tokens or query strings."""

    id: int
    ts: str  # UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ (the chain's canonical form)
    event: str
    outcome: str
    identity: str | None
    principal_id: str | None
    provider: str | None
    connection: str | None
    method: str | None
    host: str | None
    path: str | None
    status: int | None
    detail: dict[str, Any]
    prev_hash: str | None
    hash: str | None


class AuditPagePublic(BaseModel):
    events: list[AuditEventPublic]
    next_cursor: int | None  # pass as before= (newest-first pages) or after= (oldest-first)


class AuditVerifyPublic(BaseModel):
    intact: bool
    checked: int
    first_id: int | None
    head_id: int | None
    head_hash: str | None
    broken_id: int | None
    reason: str | None


# --- OAuth logins (routes/oauth.py) --------------------------------------------------


class OAuthLoginStart(Strict):
    provider: str = Field(max_length=64)
    connection: str = Field("default", max_length=64)
    flow: str | None = Field(None, pattern="^(pkce|device_code)$")
    prefer_device: bool = False  # the CLI can open no browser here
    scopes: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None, max_length=64
    )
    base_url: str | None = Field(None, max_length=2048)
    force: bool = False


class OAuthClientInput(Strict):
    """A client a user brings; typed at a masked prompt, never a CLI argument."""

    client_id: str = Field(min_length=1, max_length=512)
    client_secret: SecretStr | None = Field(None, max_length=4096)


class AuthSessionPublic(BaseModel):
    """An OAuth login in flight. ``authorization_url`` and ``client_form_url`` hold
    one-time values and are only returned to the identity that started the login."""

    id: str
    provider: str
    connection: str
    flow: str
    status: str
    expires_at: datetime
    authorization_url: str | None = None
    client_form_url: str | None = None
    user_code: str | None = None
    verification_uri: str | None = None
    verification_uri_complete: str | None = None
    interval: int | None = None
    error: str | None = None
    message: str | None = None


class LogoutPublic(BaseModel):
    provider: str
    connection: str
    removed: bool
    revoked: bool | None  # None: nothing to revoke (API key, or no revocation endpoint)


class ProviderRevokedPublic(BaseModel):
    provider: str
    connections: int
    revoked: int
    revocation_failures: int
    clients: int


class ErrorPublic(BaseModel):
    """The body of every error answer (``AuthsomeError.to_json``, validation errors)."""

    error: str
    message: str
    hint: str | None = None

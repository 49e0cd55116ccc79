"""OAuth logins in flight ("auth sessions"), kept in the database.

A session is created by ``authsome login`` (``start``) and ends ``complete``,
``failed``, ``cancelled`` or ``expired``. Because it lives in the database a
daemon restart does not lose it: a callback that arrives after the restart
completes the login. Statuses:

    needs_client ─(client id given)─▶ pending ─(callback / device poll)─▶ exchanging ─▶ complete
                                          └──▶ failed | cancelled | expired

Rules:

- ``state`` is random, only its SHA-256 is stored, and it is single-use: the
  session moves from ``pending`` to ``exchanging`` in one conditional UPDATE,
  so a replayed callback finds it already used.
- The PKCE verifier and the device code are sealed with the vault's data key
  and erased when the session ends.
- A session expires 10 minutes after it starts (a device login when the
  server's ``expires_in`` says so).
- Device logins are advanced by the daemon itself (:func:`poll_device_logins`,
  a task on its loop), whether or not a CLI is waiting; every poll is a turn
  taken in the database, so replicas sharing it poll once per interval.
- Nothing is stored for a login that fails; the error is kept on the session
  for the CLI to show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import record_event
from authsome.crypto.envelope import FieldContext, open_field, seal_field
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connections import (
    ActingFor,
    check_connection_name,
    find_connection,
)
from authsome.daemon.services.credentials import CredentialResolver
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.daemon.services.oauth_clients import (
    find_client,
    open_client,
    save_registered_client,
    save_user_client,
)
from authsome.daemon.services.oauth_connections import store_oauth_connection
from authsome.daemon.services.oauth_endpoints import (
    DEVICE_CODE,
    Endpoints,
    base_url_for,
    choose_flow,
    configured_endpoints,
    discovered_endpoints,
)
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import (
    AuthenticationFailed,
    AuthsomeError,
    ConnectionExists,
    ConnectionNotFound,
    EndpointUnreachable,
    IdentityPending,
    InvalidInput,
)
from authsome.flows.dcr import register_client
from authsome.flows.device_code import (
    DEFAULT_INTERVAL,
    DevicePending,
    next_interval,
    poll_device_token,
    start_device_authorization,
)
from authsome.flows.http import OutboundHttp
from authsome.flows.pkce import (
    IssuerCheck,
    authorization_url,
    check_callback,
    exchange_code,
    new_state,
    new_verifier,
    origin_of,
)
from authsome.flows.tokens import OAuthClient, TokenSet
from authsome.providers.catalogue import ProviderCatalogue
from authsome.providers.schema import ProviderDefinition
from authsome.store.db import transaction
from authsome.store.models import AuthSession, OAuthClientRecord, Vault

log = logging.getLogger("authsome.oauth")

SESSION_TTL = timedelta(minutes=10)
#: Ended sessions are kept this long (a replayed callback is then still recognised).
KEEP_ENDED = timedelta(days=1)
ENDED = frozenset({"complete", "failed", "cancelled", "expired"})
CLIENT_NAME = "Authsome"
#: How often the daemon looks for device logins whose poll is due.
DEVICE_SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class LoginRequest:
    provider: str
    connection: str = "default"
    flow: str | None = None
    prefer_device: bool = False
    scopes: list[str] | None = None
    base_url: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Started:
    """A session and the one-time URLs only its creator may see."""

    session: AuthSession
    authorization_url: str | None = field(default=None, repr=False)
    client_form_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    message: str
    provider: str | None = None
    connection: str | None = None


def _sealing(session: AuthSession, name: str) -> FieldContext:
    # "/" never occurs in connection names, so this cannot name a real connection.
    return FieldContext(session.vault_id, session.provider, f"auth-session/{session.id}", name)


class OAuthLogins:
    """The daemon's OAuth login service; one per request, over the daemon's state."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        keys: VaultKeys,
        master_key: bytes,
        outbound: OutboundHttp,
        resolver: CredentialResolver,
        catalogue: ProviderCatalogue,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._master_key = master_key
        self._outbound = outbound
        self._resolver = resolver
        self._catalogue = catalogue

    # --- start ----------------------------------------------------------------------------

    async def start(
        self, caller: Caller, request: LoginRequest, *, redirect_uri: str, daemon_url: str
    ) -> Started:
        provider = self._catalogue.get(request.provider)
        check_connection_name(request.connection)
        base_url = base_url_for(provider, request.base_url)
        default_scopes = provider.oauth.scopes if provider.oauth is not None else ()
        scopes = list(request.scopes if request.scopes is not None else default_scopes)
        force = await asyncio.to_thread(self._precheck, caller, provider, request)
        actor = _actor(caller)
        client_ref: str | None
        if provider.flow == "dcr_pkce":
            if request.flow == DEVICE_CODE:
                raise InvalidInput(f"{provider.name} registers a browser client; no device flow")
            endpoints, client_ref = await self._dcr_client(
                provider, base_url, scopes, redirect_uri, actor
            )
        else:
            endpoints = configured_endpoints(provider, base_url)
            client_ref = await asyncio.to_thread(self._user_client_ref, provider.name, base_url)
        flow = choose_flow(provider, endpoints, request.flow, request.prefer_device)
        assert caller.vault_id is not None and caller.principal_id is not None
        row = AuthSession(
            id=new_id(),
            vault_id=caller.vault_id,
            identity_id=caller.identity_id,
            identity_handle=caller.handle,
            principal_id=caller.principal_id,
            provider=provider.name,
            connection=request.connection,
            flow=flow,
            status="needs_client" if client_ref is None else "pending",
            force=force,
            scopes=scopes,
            endpoints={
                **endpoints.as_dict(),
                "redirect_uri": redirect_uri,
                "iss_required": endpoints.iss_required,
            },
            client_ref=client_ref,
            created_at=datetime.now(UTC),
            expires_at=datetime.now(UTC) + SESSION_TTL,
        )
        if client_ref is None:
            form_token = new_token()
            row.form_token_hash = token_digest(form_token)
            await asyncio.to_thread(self._insert, row)
            url = f"{daemon_url}/auth/client-form/{row.id}?t={form_token}"
            return Started(row, client_form_url=url)
        return await self._activate(row, insert=True)

    def _precheck(
        self, caller: Caller, provider: ProviderDefinition, request: LoginRequest
    ) -> bool:
        """Refuse early (exit 6) when the connection exists; purge old sessions.

        Returns whether the login may replace the connection: with --force, or
        when the existing one waits for a new login anyway (``needs_login``).
        """
        with transaction(self._sessions) as db:
            if caller.vault_id is None or db.get(Vault, caller.vault_id) is None:
                raise IdentityPending("this identity's principal has no vault yet")
            cutoff = datetime.now(UTC) - KEEP_ENDED
            db.execute(delete(AuthSession).where(AuthSession.expires_at < cutoff))
            existing = find_connection(db, caller.vault_id, provider.name, request.connection)
            if existing is None or request.force or existing.status == "needs_login":
                return request.force or existing is not None
            raise ConnectionExists(
                f"{provider.name} already has a connection named {request.connection!r}",
                hint=f"authsome login {provider.name} --connection {request.connection} --force",
            )

    def _user_client_ref(self, provider: str, base_url: str) -> str | None:
        with transaction(self._sessions) as db:
            row = find_client(db, provider, base_url, "user")
            return row.id if row is not None else None

    async def _dcr_client(
        self,
        provider: ProviderDefinition,
        base_url: str,
        scopes: list[str],
        redirect_uri: str,
        actor: ActingFor,
    ) -> tuple[Endpoints, str]:
        """Discover, then reuse the registered client for this issuer or register one."""
        async with self._outbound.client() as http:
            endpoints, metadata = await discovered_endpoints(http, provider, base_url)
            existing = await asyncio.to_thread(
                self._dcr_ref, provider.name, base_url, metadata.issuer, redirect_uri
            )
            if existing is not None:
                return endpoints, existing
            assert endpoints.registration is not None
            registered = await register_client(
                http,
                endpoints.registration,
                redirect_uri=redirect_uri,
                client_name=CLIENT_NAME,
                scopes=scopes,
            )

        def save() -> str:
            with transaction(self._sessions) as db:
                row = save_registered_client(
                    db,
                    self._master_key,
                    provider=provider.name,
                    base_url=base_url,
                    issuer=metadata.issuer,
                    redirect_uri=redirect_uri,
                    registered=registered,
                    actor=actor,
                )
                return row.id

        return endpoints, await asyncio.to_thread(save)

    def _dcr_ref(self, provider: str, base_url: str, issuer: str, redirect_uri: str) -> str | None:
        with transaction(self._sessions) as db:
            row = find_client(db, provider, base_url, "dcr")
            usable = row is not None and row.issuer == issuer and row.redirect_uri == redirect_uri
            return row.id if row is not None and usable else None

    # --- the client a user brings ---------------------------------------------------------

    async def provide_client(
        self,
        session_id: str,
        *,
        client_id: str,
        client_secret: str | None,
        caller: Caller | None = None,
        form_token: str | None = None,
    ) -> Started:
        """Store the user's client (deployment-wide), then start the login it was missing."""

        def save() -> AuthSession:
            with transaction(self._sessions) as db:
                row = self._own(db, session_id, caller, form_token)
                if row.status != "needs_client":
                    raise InvalidInput("this login does not wait for a client id")
                self._check_alive(db, row)
                client = save_user_client(
                    db,
                    self._master_key,
                    provider=row.provider,
                    base_url=row.endpoints.get("base_url") or "",
                    client_id=client_id,
                    client_secret=client_secret,
                    actor=ActingFor(row.identity_handle or None, row.principal_id),
                )
                row.client_ref = client.id
                row.form_token_hash = None
                row.status = "pending"
                row.expires_at = datetime.now(UTC) + SESSION_TTL
                return row

        row = await asyncio.to_thread(save)
        self._resolver.invalidate(row.vault_id, row.provider)
        return await self._activate(row, insert=False)

    # --- activation: the PKCE URL or the device code --------------------------------------

    async def _activate(self, row: AuthSession, *, insert: bool) -> Started:
        if row.flow == DEVICE_CODE:
            return await self._activate_device(row, insert=insert)
        verifier, state = new_verifier(), new_state()
        data_key = await asyncio.to_thread(self._data_key, row.vault_id)
        row.sealed_verifier = seal_field(data_key, verifier.encode(), _sealing(row, "verifier"))
        row.state_hash = token_digest(state)
        client = await asyncio.to_thread(self._client, row.client_ref)
        url = authorization_url(
            row.endpoints["authorization"],
            client_id=client.client_id,
            redirect_uri=row.endpoints["redirect_uri"],
            scopes=row.scopes,
            state=state,
            verifier=verifier,
            resource=row.endpoints.get("resource"),
        )
        await asyncio.to_thread(self._insert if insert else self._update, row)
        return Started(row, authorization_url=url)

    async def _activate_device(self, row: AuthSession, *, insert: bool) -> Started:
        client = await asyncio.to_thread(self._client, row.client_ref)
        try:
            async with self._outbound.client() as http:
                started = await start_device_authorization(
                    http, row.endpoints["device"], client, scopes=row.scopes
                )
        except AuthsomeError as exc:
            if not insert:
                await asyncio.to_thread(self._fail, row.id, exc)
            raise
        data_key = await asyncio.to_thread(self._data_key, row.vault_id)
        row.sealed_device_code = seal_field(
            data_key, started.device_code.encode(), _sealing(row, "device_code")
        )
        row.user_code = started.user_code
        row.interval = started.interval
        row.next_poll_at = datetime.now(UTC) + timedelta(seconds=started.interval)
        row.expires_at = started.expires_at  # RFC 8628: poll until expires_in, no fixed cap
        row.endpoints = {
            **row.endpoints,
            "verification_uri": started.verification_uri,
            "verification_uri_complete": started.verification_uri_complete,
        }
        await asyncio.to_thread(self._insert if insert else self._update, row)
        return Started(row)

    # --- the browser comes back -----------------------------------------------------------

    async def callback(self, params: dict[str, str]) -> CallbackResult:
        """Finish a PKCE login from the redirect; every problem is a clear message."""
        state = params.get("state", "")
        if not state:
            return CallbackResult(False, "This request carries no login state; nothing was stored.")
        claimed = await asyncio.to_thread(self._claim, token_digest(state))
        if isinstance(claimed, CallbackResult):
            return claimed
        row = claimed
        try:
            expected_issuer = row.endpoints.get("issuer")
            code = check_callback(
                params,
                expected_state=state,
                issuer_check=IssuerCheck(
                    expected_issuer,
                    origin_of(row.endpoints["authorization"]),
                    required=bool(row.endpoints.get("iss_required")),
                ),
            )
            verifier = await asyncio.to_thread(self._open_secret, row, "verifier")
            client = await asyncio.to_thread(self._client, row.client_ref)
            async with self._outbound.client() as http:
                tokens = await exchange_code(
                    http,
                    row.endpoints["token"],
                    client,
                    code=code,
                    verifier=verifier,
                    redirect_uri=row.endpoints["redirect_uri"],
                    resource=row.endpoints.get("resource"),
                )
            await asyncio.to_thread(self._complete, row.id, tokens)
        except AuthsomeError as exc:
            await asyncio.to_thread(self._fail, row.id, exc)
            return CallbackResult(False, exc.message, row.provider, row.connection)
        self._resolver.invalidate(row.vault_id, row.provider)
        return CallbackResult(True, f"Logged in to {row.provider}.", row.provider, row.connection)

    def _claim(self, state_hash: str) -> AuthSession | CallbackResult:
        with transaction(self._sessions) as db:
            row = db.scalars(
                select(AuthSession).where(AuthSession.state_hash == state_hash)
            ).first()
            if row is None:
                return CallbackResult(
                    False,
                    "This login link does not belong to any login in progress "
                    "(its state does not match); nothing was stored.",
                )
            if row.status != "pending":
                return CallbackResult(
                    False,
                    f"This login was already used or ended ({row.status}); "
                    "nothing more was stored.",
                    row.provider,
                    row.connection,
                )
            if row.expires_at <= datetime.now(UTC):
                self._end(db, row, "expired", AuthenticationFailed(_expired_message(row)))
                return CallbackResult(False, _expired_message(row), row.provider, row.connection)
            taken = db.execute(
                update(AuthSession)
                .where(AuthSession.id == row.id, AuthSession.status == "pending")
                .values(status="exchanging")
            )
            if getattr(taken, "rowcount", 0) != 1:
                return CallbackResult(
                    False, "This login was already used; nothing more was stored."
                )
            db.refresh(row)
            return row

    # --- the CLI polls --------------------------------------------------------------------

    async def status(self, caller: Caller, session_id: str) -> AuthSession:
        """The session as it stands; a device login is advanced when a poll is due."""
        row = await asyncio.to_thread(self._load_own, caller, session_id)
        if row.flow == DEVICE_CODE and row.status == "pending":
            await self._poll_device(row)
            row = await asyncio.to_thread(self._load_own, caller, session_id)
        return row

    async def advance_device_logins(self) -> None:
        """Poll every pending device login whose turn has come; end those past ``expires_in``."""
        due = await asyncio.to_thread(self._due_device_logins)
        results = await asyncio.gather(
            *(self._poll_device(row) for row in due), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):  # its text may quote a response: name only
                log.error("advancing a device login failed (%s)", type(result).__name__)

    def _due_device_logins(self) -> list[AuthSession]:
        now = datetime.now(UTC)
        with transaction(self._sessions) as db:
            query = select(AuthSession).where(
                AuthSession.flow == DEVICE_CODE,
                AuthSession.status == "pending",
                (AuthSession.next_poll_at <= now) | (AuthSession.expires_at <= now),
            )
            return list(db.scalars(query))

    async def _poll_device(self, row: AuthSession) -> None:
        taken = await asyncio.to_thread(self._take_poll_turn, row)
        if not taken:
            return
        try:
            device_code = await asyncio.to_thread(self._open_secret, row, "device_code")
            client = await asyncio.to_thread(self._client, row.client_ref)
            async with self._outbound.client() as http:
                outcome = await poll_device_token(http, row.endpoints["token"], client, device_code)
        except EndpointUnreachable:
            return  # still pending: the next turn polls again
        except AuthsomeError as exc:
            await asyncio.to_thread(self._fail, row.id, exc)
            return
        if isinstance(outcome, DevicePending):
            await asyncio.to_thread(self._schedule_next_poll, row.id, outcome)
            return
        try:
            await asyncio.to_thread(self._complete, row.id, outcome)
        except AuthsomeError as exc:
            await asyncio.to_thread(self._fail, row.id, exc)
            return
        self._resolver.invalidate(row.vault_id, row.provider)

    def _take_poll_turn(self, row: AuthSession) -> bool:
        """Claim this poll (one per interval, whoever asks); expire the session when due."""
        now = datetime.now(UTC)
        with transaction(self._sessions) as db:
            current = db.get(AuthSession, row.id)
            if current is None or current.status != "pending":
                return False
            if current.expires_at <= now:
                self._end(db, current, "expired", AuthenticationFailed(_expired_message(current)))
                return False
            due = current.next_poll_at
            if due is not None and due > now:
                return False
            taken = db.execute(
                update(AuthSession)
                .where(
                    AuthSession.id == row.id,
                    AuthSession.status == "pending",
                    AuthSession.next_poll_at == due,
                )
                .values(next_poll_at=now + timedelta(seconds=current.interval or DEFAULT_INTERVAL))
            )
            return getattr(taken, "rowcount", 0) == 1

    def _schedule_next_poll(self, session_id: str, pending: DevicePending) -> None:
        """The next turn counts from this answer (plus 5 s after ``slow_down``).

        Counting from the claim alone would let a slow poll (a cold client,
        a busy database) reach the server less than ``interval`` after the
        one before it.
        """
        with transaction(self._sessions) as db:
            row = db.get(AuthSession, session_id)
            if row is not None and row.status == "pending":
                row.interval = next_interval(row.interval or DEFAULT_INTERVAL, pending)
                row.next_poll_at = datetime.now(UTC) + timedelta(seconds=row.interval)

    # --- cancel ---------------------------------------------------------------------------

    def cancel(self, caller: Caller, session_id: str) -> AuthSession:
        with transaction(self._sessions) as db:
            row = self._own(db, session_id, caller, None)
            if row.status not in ENDED:
                self._end(db, row, "cancelled", AuthenticationFailed("the login was cancelled"))
            return row

    # --- database steps (worker threads) --------------------------------------------------

    def _own(
        self, db: Session, session_id: str, caller: Caller | None, form_token: str | None
    ) -> AuthSession:
        """The session, if the caller started it or holds its form token."""
        row = db.get(AuthSession, session_id)
        allowed = row is not None and (
            (caller is not None and row.identity_id == caller.identity_id)
            or (form_token is not None and row.form_token_hash == token_digest(form_token))
        )
        if row is None or not allowed:
            raise ConnectionNotFound("no such login in progress")
        return row

    def _load_own(self, caller: Caller, session_id: str) -> AuthSession:
        with transaction(self._sessions) as db:
            row = self._own(db, session_id, caller, None)
            if row.status in ("pending", "needs_client") and row.expires_at <= datetime.now(UTC):
                self._end(db, row, "expired", AuthenticationFailed(_expired_message(row)))
            return row

    def _check_alive(self, db: Session, row: AuthSession) -> None:
        if row.expires_at <= datetime.now(UTC):
            self._end(db, row, "expired", AuthenticationFailed(_expired_message(row)))
            raise AuthenticationFailed(_expired_message(row))

    def _insert(self, row: AuthSession) -> None:
        """A new login: the session and its ``login_started`` event in one transaction."""
        with transaction(self._sessions) as db:
            db.add(row)
            record_event(
                db,
                "login_started",
                "success",
                identity=row.identity_handle or None,
                principal_id=row.principal_id,
                provider=row.provider,
                connection=row.connection,
                detail={"flow": row.flow, "needs_client": row.status == "needs_client"},
            )

    def _update(self, row: AuthSession) -> None:
        with transaction(self._sessions) as db:
            db.merge(row)

    def _data_key(self, vault_id: str) -> bytes:
        with transaction(self._sessions) as db:
            vault = db.get(Vault, vault_id)
            if vault is None:
                raise ConnectionNotFound("the vault of this login is gone")
            return self._keys.data_key(vault)

    def _open_secret(self, row: AuthSession, name: str) -> str:
        blob = row.sealed_verifier if name == "verifier" else row.sealed_device_code
        if blob is None:
            raise AuthenticationFailed("this login has no pending secret left")
        return open_field(self._data_key(row.vault_id), blob, _sealing(row, name)).decode()

    def _client(self, client_ref: str | None) -> OAuthClient:
        with transaction(self._sessions) as db:
            record = db.get(OAuthClientRecord, client_ref) if client_ref else None
            if record is None:
                raise AuthenticationFailed(
                    "the OAuth client of this login was removed", hint="authsome login again"
                )
            return open_client(db, self._master_key, record).client

    def _complete(self, session_id: str, tokens: TokenSet) -> None:
        with transaction(self._sessions) as db:
            row = db.get(AuthSession, session_id)
            vault = db.get(Vault, row.vault_id) if row is not None else None
            if row is None or vault is None:
                raise ConnectionNotFound("this login was removed meanwhile")
            provider = self._catalogue.get(row.provider)
            endpoints = row.endpoints
            store_oauth_connection(
                db,
                self._keys,
                vault,
                provider,
                name=row.connection,
                tokens=tokens,
                endpoints={
                    "token": endpoints.get("token"),
                    "revocation": endpoints.get("revocation"),
                    "issuer": endpoints.get("issuer"),
                    "resource": endpoints.get("resource"),
                    "base_url": endpoints.get("base_url"),
                },
                client_ref=row.client_ref,
                requested_scopes=list(row.scopes),
                force=row.force,
                flow=row.flow,
                actor=ActingFor(row.identity_handle or None, row.principal_id),
            )
            row.status = "complete"
            row.completed_at = datetime.now(UTC)
            row.sealed_verifier = None
            row.sealed_device_code = None

    def _fail(self, session_id: str, error: AuthsomeError) -> None:
        with transaction(self._sessions) as db:
            row = db.get(AuthSession, session_id)
            if row is not None and row.status not in ENDED:
                self._end(db, row, "failed", error)

    @staticmethod
    def _end(db: Session, row: AuthSession, status: str, error: AuthsomeError) -> None:
        row.status = status
        row.error = error.code
        row.message = error.message
        row.completed_at = datetime.now(UTC)
        row.sealed_verifier = None
        row.sealed_device_code = None
        row.form_token_hash = None
        record_event(
            db,
            "login",
            "failure",
            identity=row.identity_handle or None,
            principal_id=row.principal_id,
            provider=row.provider,
            connection=row.connection,
            detail={"flow": row.flow, "ended": status, "error": error.code},
        )
        log.info("an OAuth login for %s ended: %s", row.provider, status)


async def poll_device_logins(
    make_logins: Callable[[], OAuthLogins], *, every: float = DEVICE_SWEEP_SECONDS
) -> None:
    """The daemon's background task: advance device logins until cancelled.

    Without it a device login would only move while a client asks for its
    status. ``make_logins`` is called for every sweep, so a replaced
    provider catalogue is used.
    """
    while True:
        try:
            await make_logins().advance_device_logins()
        except Exception as exc:
            log.error("looking for device logins to poll failed (%s)", type(exc).__name__)
        await asyncio.sleep(every)


def _expired_message(row: AuthSession) -> str:
    return (
        f"the {row.provider} login expired before it was completed; "
        f"run `authsome login {row.provider}` again"
    )


def _actor(caller: Caller) -> ActingFor:
    assert caller.principal_id is not None
    return ActingFor(identity=caller.handle or None, principal_id=caller.principal_id)

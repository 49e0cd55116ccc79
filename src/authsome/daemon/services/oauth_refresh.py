"""Refreshing OAuth connections: one refresh at a time, saved before it is used.

``TokenRefresher.refresh(connection_id)`` may be awaited by any number of
callers at once; they share one task (single flight), so the server sees one
refresh request. Across processes (replicas on one database) a lease in
``oauth_grants`` keeps a second replica from spending the same refresh
token: the lease is an ``UPDATE … WHERE lease free``, which PostgreSQL
serialises on the row lock (SQLite on its write lock), and the grant is read
again once the lease is held, so a replica that lost the race uses the
tokens the winner saved instead of refreshing again. A rotated
refresh token is committed together with the new access token before any
caller receives it.

Failures:

- the server refuses the refresh token (``invalid_grant`` …): the connection
  becomes ``needs_login`` and a ``refresh_failed`` event is written;
- the server cannot be reached (timeout, 5xx): retried a few times with
  back-off inside the request, then again later; the refresh token is kept
  and a still-valid access token stays in use. Each back-off step writes one
  ``refresh_failed`` event (reason ``unreachable``): callers that share an
  attempt share its event, and no attempt is made before the step is over.

All database work runs in worker threads; HTTP runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import record_event
from authsome.daemon.services.oauth_connections import (
    GrantState,
    acquire_lease,
    load_grant,
    mark_needs_login,
    release_lease,
    save_refreshed,
)
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import AuditUnavailable, AuthsomeError, EndpointUnreachable
from authsome.flows.http import OutboundHttp
from authsome.flows.refresh import RefreshRefused, refresh_due, refresh_tokens
from authsome.flows.tokens import TokenSet
from authsome.store.db import transaction
from authsome.store.models import Connection, Vault

log = logging.getLogger("authsome.oauth")

#: Pauses between the attempts made while a request waits.
ATTEMPT_PAUSES = (0.5, 1.5)
LEASE_SECONDS = 30.0
LEASE_WAIT_SECONDS = 30.0
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class Fresh:
    """A usable access token. ``retry_at`` (epoch seconds) asks for another try soon."""

    name: str
    access_token: str = field(repr=False)
    expires_at: datetime | None
    lifetime: timedelta | None
    retry_at: float | None = None


@dataclass(frozen=True)
class Unusable:
    """No usable token: ``needs_login``, or a transient failure until ``retry_at``."""

    name: str
    message: str
    hint: str | None
    needs_login: bool
    retry_at: float | None = None


@dataclass(frozen=True)
class Gone:
    """The connection was removed meanwhile."""


RefreshOutcome = Fresh | Unusable | Gone


class _Busy:
    """Another process holds the refresh lease."""


def login_hint(provider: str, name: str) -> str:
    return f"authsome login {provider} --connection {name} --force"


def _needs_login(state: GrantState, why: str) -> Unusable:
    return Unusable(
        state.name,
        f"the {state.provider} connection {state.name!r} needs a new login: {why}",
        login_hint(state.provider, state.name),
        needs_login=True,
    )


class TokenRefresher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: VaultKeys,
        outbound: OutboundHttp,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._outbound = outbound
        self._flights: dict[str, asyncio.Task[RefreshOutcome]] = {}
        self._failures: dict[str, int] = {}

    async def refresh(self, connection_id: str, *, force: bool = False) -> RefreshOutcome:
        """Refresh if due (or ``force``); concurrent callers share one attempt."""
        task = self._flights.get(connection_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run(connection_id, force))
            self._flights[connection_id] = task
            task.add_done_callback(lambda _done: self._flights.pop(connection_id, None))
        # shield: a caller that gives up must not cancel the others' refresh.
        return await asyncio.shield(task)

    async def _run(self, connection_id: str, force: bool) -> RefreshOutcome:
        failure: EndpointUnreachable | None = None
        for pause in (0.0, *ATTEMPT_PAUSES):
            await asyncio.sleep(pause)
            try:
                outcome = await self._attempt(connection_id, force)
            except EndpointUnreachable as exc:
                failure = exc
                continue
            self._failures.pop(connection_id, None)
            return outcome
        assert failure is not None
        return await self._after_transient_failure(connection_id, failure)

    async def _attempt(self, connection_id: str, force: bool) -> RefreshOutcome:
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        begun = await asyncio.to_thread(self._begin, connection_id, force)
        while isinstance(begun, _Busy):
            if time.monotonic() > deadline:
                raise EndpointUnreachable("another Authsome process is still refreshing this token")
            await asyncio.sleep(0.1)
            # Whoever held the lease has just refreshed: do not refresh again.
            begun = await asyncio.to_thread(self._begin, connection_id, False)
        if not isinstance(begun, GrantState):
            return begun
        return await self._exchange(begun)

    async def _exchange(self, state: GrantState) -> RefreshOutcome:
        assert state.refresh_token is not None and state.client is not None
        try:
            async with self._outbound.client() as http:
                tokens = await refresh_tokens(
                    http,
                    state.endpoints["token"],
                    state.client,
                    state.refresh_token,
                    resource=state.endpoints.get("resource"),
                )
        except RefreshRefused as exc:
            await asyncio.to_thread(self._give_up, state, exc.error)
            return _needs_login(state, exc.message)
        except AuthsomeError as exc:
            # Unreachable, or an answer that is not OAuth at all: keep the
            # refresh token and try again later.
            await asyncio.to_thread(self._release, state.connection_id)
            if isinstance(exc, EndpointUnreachable):
                raise
            raise EndpointUnreachable(exc.message) from exc
        saved = await asyncio.to_thread(self._save, state, tokens)
        if not saved:  # a new login replaced the tokens meanwhile: use those
            reread = await asyncio.to_thread(self._begin, state.connection_id, False)
            return reread if not isinstance(reread, GrantState | _Busy) else Gone()
        log.info("refreshed the %s token of connection %s", state.provider, state.name)
        return Fresh(
            state.name,
            tokens.access_token,
            tokens.expires_at,
            timedelta(seconds=tokens.expires_in) if tokens.expires_in else None,
        )

    async def _after_transient_failure(
        self, connection_id: str, failure: EndpointUnreachable
    ) -> RefreshOutcome:
        count = self._failures[connection_id] = self._failures.get(connection_id, 0) + 1
        delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (count - 1))
        retry_at = time.time() + delay
        log.warning(
            "refreshing a token failed %d time(s) in a row (%s); next try in %.0f s",
            count,
            failure.message,
            delay,
        )
        await asyncio.to_thread(self._record_unreachable, connection_id, count, delay)
        current = await asyncio.to_thread(self._current, connection_id)
        if current is None:
            return Gone()
        name, provider, access, expires_at, lifetime = current
        if access is not None and (expires_at is None or expires_at > datetime.now(UTC)):
            return Fresh(name, access, expires_at, lifetime, retry_at=retry_at)
        return Unusable(
            name,
            f"the {provider} token could not be refreshed ({failure.message}); "
            f"Authsome tries again in {delay:.0f} s",
            None,
            needs_login=False,
            retry_at=retry_at,
        )

    # --- database steps (worker threads) -------------------------------------------

    def _begin(self, connection_id: str, force: bool) -> GrantState | RefreshOutcome | _Busy:
        with transaction(self._sessions) as db:
            connection = db.get(Connection, connection_id)
            vault = db.get(Vault, connection.vault_id) if connection is not None else None
            if connection is None or vault is None:
                return Gone()
            state = load_grant(db, self._keys, self._keys.wrapping_key(db), vault, connection)
            now = datetime.now(UTC)
            if state.status == "needs_login":
                return _needs_login(state, "its refresh token was refused earlier")
            if not force and not refresh_due(state.expires_at, state.lifetime, now=now):
                assert state.access_token is not None
                return Fresh(state.name, state.access_token, state.expires_at, state.lifetime)
            unable = self._why_not_refreshable(state)
            if unable is not None:
                if state.expires_at is not None and state.expires_at > now and not force:
                    assert state.access_token is not None
                    return Fresh(state.name, state.access_token, state.expires_at, None)
                mark_needs_login(db, state, reason=unable)
                return _needs_login(state, unable)
            if not acquire_lease(db, connection_id, now=now, seconds=LEASE_SECONDS):
                return _Busy()
            # Another replica may have refreshed between the read above and the
            # lease (its commit cleared its lease): read again now that the lease
            # is ours, or the spent refresh token would be sent a second time.
            db.expire_all()
            state = load_grant(db, self._keys, self._keys.wrapping_key(db), vault, connection)
            if not force and not refresh_due(state.expires_at, state.lifetime, now=now):
                release_lease(db, connection_id)
                assert state.access_token is not None
                return Fresh(state.name, state.access_token, state.expires_at, state.lifetime)
            return state

    @staticmethod
    def _why_not_refreshable(state: GrantState) -> str | None:
        if state.refresh_token is None:
            return "the access token expired and the provider gave no refresh token"
        if state.client is None:
            return "its OAuth client was removed"
        if "token" not in state.endpoints:
            return "its token endpoint is unknown"
        return None

    def _save(self, state: GrantState, tokens: TokenSet) -> bool:
        with transaction(self._sessions) as db:
            return save_refreshed(db, self._keys, state, tokens)

    def _give_up(self, state: GrantState, reason: str) -> None:
        with transaction(self._sessions) as db:
            mark_needs_login(db, state, reason=reason)

    def _record_unreachable(self, connection_id: str, failures: int, retry_in: float) -> None:
        """The ``refresh_failed`` event of one back-off step (nothing else changes)."""
        try:
            with transaction(self._sessions) as db:
                connection = db.get(Connection, connection_id)
                vault = db.get(Vault, connection.vault_id) if connection is not None else None
                if connection is None or vault is None:
                    return
                record_event(
                    db,
                    "refresh_failed",
                    "failure",
                    principal_id=vault.principal_id,
                    provider=connection.provider,
                    connection=connection.name,
                    detail={"reason": "unreachable", "failures": failures, "retry_in": retry_in},
                )
        except AuditUnavailable as exc:
            # Nothing was changed that could roll back with it; say so in the log.
            log.error("could not audit a failed refresh (%s)", exc.message)

    def _release(self, connection_id: str) -> None:
        with transaction(self._sessions) as db:
            release_lease(db, connection_id)

    def _current(
        self, connection_id: str
    ) -> tuple[str, str, str | None, datetime | None, timedelta | None] | None:
        with transaction(self._sessions) as db:
            connection = db.get(Connection, connection_id)
            vault = db.get(Vault, connection.vault_id) if connection is not None else None
            if connection is None or vault is None:
                return None
            state = load_grant(db, self._keys, self._keys.wrapping_key(db), vault, connection)
            return state.name, state.provider, state.access_token, state.expires_at, state.lifetime

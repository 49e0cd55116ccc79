"""Turning a connection into the headers the proxy injects, with a cache.

The proxy lives in the daemon (DESIGN §2b), so a credential is decrypted
once and kept as ready-made header bytes until a login, logout or refresh
for that provider invalidates it.

OAuth connections carry ``refresh_at``: once it passes, ``cached`` answers
``None`` and the next resolve refreshes the token first (one refresh however
many requests wait, see ``oauth_refresh``). Connections resolved in the
last ``IN_USE_SECONDS`` are also refreshed in the background before they
expire, so requests rarely wait.

Replicas sharing one database (team mode) tell each other about changes
through ``shared_changes.ChangeFeed``: ``invalidate`` drops the entry here
and publishes the change; other replicas drop theirs within one poll. As a
backstop, a shared replica never serves an entry older than
``SHARED_MAX_AGE_SECONDS``.

``resolve_async`` is the daemon's path (event loop); ``resolve`` blocks and
is for worker threads: a refresh it needs runs on the daemon's loop.

A connection of a multi-tenant provider's own instance (``--base-url``) is
resolved per place: ``instance`` names the base URL a request's host was
matched for, ``None`` the provider's listed hosts, and each has its own
cache entry, so a token is served only where it belongs (``instances``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services.connection_usage import ConnectionUsage
from authsome.daemon.services.connections import find_connection, open_secret
from authsome.daemon.services.instances import InstanceIndex, instance_refusal
from authsome.daemon.services.oauth_connections import ACCESS_TOKEN
from authsome.daemon.services.oauth_refresh import (
    Fresh,
    Gone,
    RefreshOutcome,
    TokenRefresher,
    Unusable,
    login_hint,
)
from authsome.daemon.services.shared_changes import Change, ChangeFeed
from authsome.daemon.services.vaults import VaultKeys
from authsome.flows.http import OutboundHttp
from authsome.flows.refresh import refresh_at, refresh_due
from authsome.providers.schema import ProviderDefinition
from authsome.store.models import Connection, OAuthGrant, Vault

log = logging.getLogger("authsome.oauth")

T = TypeVar("T")

#: A connection resolved this recently is "in use" and refreshed ahead of expiry.
IN_USE_SECONDS = 600.0
_IDLE_WAKE_SECONDS = 30.0
#: With replicas: the longest an entry is served without reading the database
#: (bounds staleness if a replica died between a change and its feed row).
SHARED_MAX_AGE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    provider: str
    connection: str | None  # None: no usable connection
    headers: tuple[tuple[bytes, bytes], ...]
    unusable: str | None = None  # the status of a connection that exists but is not active
    refresh_at: float | None = None  # epoch seconds: resolve again from then on
    problem: str | None = None  # why an existing connection cannot be used now
    problem_status: int = 403  # 503 while a refresh fails for a transient reason


def header_for(provider: ProviderDefinition, secret: str) -> tuple[bytes, bytes]:
    """The header that carries ``secret`` for ``provider`` (name, value)."""
    assert provider.api_key is not None
    value = provider.api_key.header_value(secret)  # Bearer, raw, template or HTTP Basic
    return provider.api_key.header_name.encode("latin-1"), value.encode("latin-1")


def bearer_header(provider: ProviderDefinition, access_token: str) -> tuple[bytes, bytes]:
    """``Authorization: Bearer <token>`` (or the provider's documented variant)."""
    name, prefix = "Authorization", "Bearer"
    if provider.oauth is not None:
        name, prefix = provider.oauth.header_name, provider.oauth.header_prefix or ""
    value = f"{prefix} {access_token}" if prefix else access_token
    return name.encode("latin-1"), value.encode("latin-1")


#: (vault, provider, connection name or None for the default, instance base URL or None)
CacheKey = tuple[str, str, str | None, str | None]


@dataclass(frozen=True)
class _RefreshNeeded:
    connection_id: str


class CredentialResolver:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: VaultKeys,
        *,
        outbound: OutboundHttp | None = None,
        changes: ChangeFeed | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._cache: dict[CacheKey, ResolvedCredential] = {}
        self._changes = changes
        self._shared = changes is not None and changes.enabled
        self._stored_at: dict[CacheKey, float] = {}
        if changes is not None:
            changes.subscribe(self._on_change, on_lost_track=self.forget_all)
        self._lock = threading.Lock()
        self.refresher = TokenRefresher(sessions, keys, outbound or OutboundHttp())
        self.usage = ConnectionUsage(sessions)  # callers note each credential they hand out
        #: Each vault's connections on their own instances; forgotten on every invalidation.
        self.instances = InstanceIndex(
            sessions, max_age=SHARED_MAX_AGE_SECONDS if self._shared else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._key_locks: dict[CacheKey, asyncio.Lock] = {}
        self._refreshable: dict[CacheKey, ProviderDefinition] = {}
        self._last_used: dict[CacheKey, float] = {}
        self._wake: asyncio.Event | None = None
        self._tasks: dict[CacheKey | None, asyncio.Task[Any]] = {}

    def cached(
        self, vault_id: str, provider: str, connection: str | None, instance: str | None = None
    ) -> ResolvedCredential | None:
        """The cached credential, or ``None`` when there is none or it is due for refresh."""
        key = (vault_id, provider, connection, instance)
        found = self._cache.get(key)
        if (
            found is not None
            and self._shared
            and time.monotonic() - self._stored_at.get(key, 0.0) > SHARED_MAX_AGE_SECONDS
        ):
            return None
        if found is None or found.refresh_at is None:
            return found
        if self._loop is None:
            self._bind_loop()
        self._last_used[key] = time.monotonic()
        return None if time.time() >= found.refresh_at else found

    def resolve(
        self,
        vault_id: str,
        provider: ProviderDefinition,
        connection: str | None,
        instance: str | None = None,
    ) -> ResolvedCredential:
        """Load, decrypt and cache; blocking (run it in a worker thread)."""
        loaded = self._load(vault_id, provider, connection, instance)
        if isinstance(loaded, ResolvedCredential):
            self._store((vault_id, provider.name, connection, instance), provider, loaded)
            return loaded
        return self._on_loop(self.resolve_async, vault_id, provider, connection, instance)

    async def resolve_async(
        self,
        vault_id: str,
        provider: ProviderDefinition,
        connection: str | None,
        instance: str | None = None,
    ) -> ResolvedCredential:
        """Like ``resolve``, on the event loop; refreshes an OAuth token when due."""
        self._bind_loop()
        key = (vault_id, provider.name, connection, instance)
        hit = self.cached(*key)
        if hit is not None:
            return hit
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self.cached(*key)
            if hit is not None:
                return hit
            loaded = await asyncio.to_thread(self._load, vault_id, provider, connection, instance)
            if isinstance(loaded, _RefreshNeeded):
                outcome = await self.refresher.refresh(loaded.connection_id)
                loaded = self._from_outcome(provider, outcome)
                if isinstance(outcome, Fresh) and outcome.retry_at is None:
                    self.invalidate(vault_id, provider.name)  # other names for it are stale
            self._store(key, provider, loaded)
            return loaded

    async def refresh_now(self, vault_id: str, provider: str, connection_id: str) -> RefreshOutcome:
        """Refresh one OAuth connection now, due or not (``authsome refresh``)."""
        self._bind_loop()
        outcome = await self.refresher.refresh(connection_id, force=True)
        self.invalidate(vault_id, provider)
        return outcome

    def invalidate(self, vault_id: str, provider: str) -> None:
        """Forget ``provider``'s connections in one vault, here and on other replicas."""
        self._drop(lambda key: key[0] == vault_id and key[1] == provider)
        self.instances.forget(vault_id)
        if self._changes is not None:
            self._changes.publish(Change("connection", vault_id=vault_id, provider=provider))

    def invalidate_provider(self, provider: str) -> None:
        """Forget ``provider`` in every vault: its definition (header format) changed."""
        self._drop(lambda key: key[1] == provider)
        if self._changes is not None:
            self._changes.publish(Change("provider", provider=provider))

    def forget_all(self) -> None:
        """Drop every cached entry (changes from other replicas may have been missed)."""
        self._drop(lambda _key: True)
        self.instances.forget(None)

    def _on_change(self, change: Change) -> None:
        if change.kind == "connection":
            self._drop(lambda key: key[0] == change.vault_id and key[1] == change.provider)
            self.instances.forget(change.vault_id)
        elif change.kind == "provider":
            self._drop(lambda key: key[1] == change.provider)

    def _drop(self, matches: Callable[[CacheKey], bool]) -> None:
        with self._lock:
            for key in [k for k in self._cache if matches(k)]:
                del self._cache[key]

    # --- loading -----------------------------------------------------------------------

    def _load(
        self,
        vault_id: str,
        provider: ProviderDefinition,
        connection: str | None,
        instance: str | None,
    ) -> ResolvedCredential | _RefreshNeeded:
        with self._sessions() as session:
            vault = session.get(Vault, vault_id)
            found = find_connection(session, vault_id, provider.name, connection) if vault else None
            if vault is None or found is None or found.status != "active":
                status = found.status if vault is not None and found is not None else None
                problem = None
                if found is not None and status == "needs_login":
                    problem = (
                        f"the {provider.name} connection {found.name!r} needs a new login "
                        f"(its refresh token was refused); run "
                        f"`{login_hint(provider.name, found.name)}`"
                    )
                return ResolvedCredential(provider.name, None, (), unusable=status, problem=problem)
            grant = session.get(OAuthGrant, found.id) if found.auth_type == "oauth2" else None
            refusal = instance_refusal(provider, found, grant, instance)
            if refusal is not None:
                return ResolvedCredential(provider.name, None, (), problem=refusal)
            if found.auth_type == "oauth2":
                return self._load_oauth(session, vault, found, provider, grant)
            secret = open_secret(session, self._keys, vault, found, "api_key")
            return ResolvedCredential(provider.name, found.name, (header_for(provider, secret),))

    def _load_oauth(
        self,
        session: Session,
        vault: Vault,
        found: Connection,
        provider: ProviderDefinition,
        grant: OAuthGrant | None,
    ) -> ResolvedCredential | _RefreshNeeded:
        seconds = grant.lifetime_seconds if grant is not None else None
        lifetime = timedelta(seconds=seconds) if seconds else None
        if refresh_due(found.expires_at, lifetime, now=datetime.now(UTC)):
            return _RefreshNeeded(found.id)
        token = open_secret(session, self._keys, vault, found, ACCESS_TOKEN)
        due = refresh_at(found.expires_at, lifetime)
        return ResolvedCredential(
            provider.name,
            found.name,
            (bearer_header(provider, token),),
            refresh_at=due.timestamp() if due is not None else None,
        )

    @staticmethod
    def _from_outcome(provider: ProviderDefinition, outcome: RefreshOutcome) -> ResolvedCredential:
        if isinstance(outcome, Gone):
            return ResolvedCredential(provider.name, None, ())
        if isinstance(outcome, Unusable):
            problem = outcome.message + (f"; run `{outcome.hint}`" if outcome.hint else "")
            return ResolvedCredential(
                provider.name,
                None,
                (),
                unusable="needs_login" if outcome.needs_login else None,
                refresh_at=outcome.retry_at,
                problem=problem,
                problem_status=403 if outcome.needs_login else 503,
            )
        due = refresh_at(outcome.expires_at, outcome.lifetime)
        when = due.timestamp() if due is not None else None
        if outcome.retry_at is not None:
            when = outcome.retry_at if when is None else min(when, outcome.retry_at)
        return ResolvedCredential(
            provider.name,
            outcome.name,
            (bearer_header(provider, outcome.access_token),),
            refresh_at=when,
        )

    def _store(
        self, key: CacheKey, provider: ProviderDefinition, resolved: ResolvedCredential
    ) -> None:
        with self._lock:
            self._cache[key] = resolved
            self._stored_at[key] = time.monotonic()
        if resolved.refresh_at is not None and resolved.problem is None:
            self._refreshable[key] = provider
            self._last_used.setdefault(key, time.monotonic())
            if self._wake is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(self._wake.set)

    # --- the daemon's loop and the background refresher --------------------------------

    def _bind_loop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: the loop is bound by the first call made on it
        self._loop = loop
        self._key_locks.clear()  # locks of a closed loop cannot be reused
        self._wake = asyncio.Event()
        self._tasks[None] = loop.create_task(self._refresh_in_background())

    def bind_loop(self) -> None:
        """Adopt the running loop as the daemon's (refreshes and their single flight run there)."""
        self._bind_loop()

    def _on_loop(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``function(*args)`` on the daemon's loop from a worker thread and wait for it.

        Every refresh must run on that one loop: single flight is per loop.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("resolve() blocks; on the event loop use resolve_async()")
        loop = self._loop
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(function(*args), loop)
            return future.result(timeout=120)
        try:  # a FastAPI worker thread knows its loop
            return anyio.from_thread.run(function, *args)
        except anyio.NoEventLoopError:
            return asyncio.run(function(*args))  # no daemon loop at all (tools, tests)

    async def _refresh_in_background(self) -> None:
        assert self._wake is not None
        while True:
            wake_at = time.time() + _IDLE_WAKE_SECONDS
            for key, provider in list(self._refreshable.items()):
                wake_at = min(wake_at, self._refresh_if_due(key, provider))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, wake_at - time.time()))

    def _refresh_if_due(self, key: CacheKey, provider: ProviderDefinition) -> float:
        """Start refreshing ``key`` if it is in use and due; when to look at it again."""
        if time.monotonic() - self._last_used.get(key, 0.0) > IN_USE_SECONDS:
            self._refreshable.pop(key, None)
            self._last_used.pop(key, None)
            return float("inf")
        entry = self._cache.get(key)
        if entry is None or entry.refresh_at is None:
            return float("inf")
        if time.time() < entry.refresh_at:
            return entry.refresh_at
        if key not in self._tasks:
            assert self._loop is not None
            task = self._loop.create_task(self._background_resolve(key, provider))
            self._tasks[key] = task
            task.add_done_callback(lambda _done: self._tasks.pop(key, None))
        return time.time() + 1.0

    async def _background_resolve(self, key: CacheKey, provider: ProviderDefinition) -> None:
        try:
            await self.resolve_async(key[0], provider, key[2], key[3])
        except Exception as exc:  # keep going; an exception's text may quote a secret
            log.error(
                "background refresh of a %s token failed (%s)", provider.name, type(exc).__name__
            )

"""The proxy engine inside the CLI (``authsome run --local-proxy``, DESIGN §2b, §8).

With a shared daemon on another host, agent traffic stays on the agent's
machine: the CLI runs the same engine as the daemon, with a backend that asks
the daemon (PoP-signed, ``routes/local_proxy.py``) for each decision and
credential and caches the answer for the time the daemon allows. Refusals are
the daemon's own, word for word. The matcher is the daemon's for this run: the
catalogue plus the instances (``login --base-url``) of the run's vault. An
answer is kept under the match the daemon decided it for (``Match.key``:
pattern, provider, connection, instance) and reused only for a request this
side matches to the same key, so a credential given for one instance's host
never goes to a listed host or another instance, even while the two sides'
views of the vault differ. The TLS interception uses a CA of this
client home (``client/ca/local/``); only its public certificate reaches the
child.

The proxied-request events go back to the daemon as its own proxy writes
them (issue 6): every 250 ms, or as soon as 100 are queued, and all of them
before the run ends. Events beyond the queue's bound (the daemon unreachable
for long) are counted, and the count goes with the next upload, so the daemon
writes it as an ``audit_dropped`` event.

Fail closed: the daemon refuses credentials, and these uploads, while it
cannot write audit events (503 ``audit_unavailable``). A cached answer is
therefore used only while the daemon keeps accepting this run's events: for
four upload intervals (1 s) after it last accepted an upload or gave a
credential (the slack is for an upload's round trip to a remote daemon).
After an idle spell the next request asks the daemon again, and a refused
upload or resolve drops every cached answer at once, so the agent gets the
daemon's 503 instead of a credential whose use cannot be audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authsome.audit.cadence import DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL
from authsome.client.async_api import AsyncDaemonClient
from authsome.crypto.identity_keys import IdentityKey
from authsome.errors import AuditUnavailable, AuthsomeError
from authsome.providers.matching import Instance, ProviderMatcher
from authsome.providers.schema import ProviderDefinition
from authsome.proxy.backend import Injection, RunSession
from authsome.proxy.ca import CertificateAuthority
from authsome.proxy.server import ProxyServer

log = logging.getLogger("authsome.local_proxy")

#: Most events per upload (``POST /runs/{id}/events`` accepts at most 256).
UPLOAD_BATCH = 256
#: Upload intervals a cached answer stays usable after the daemon last accepted this
#: run's events: one round trip to a remote daemon may take most of that.
VOUCH_INTERVALS = 4
#: Events kept while the daemon cannot be reached; beyond this they are counted, not kept.
MAX_PENDING_EVENTS = 50_000


@dataclass
class _Answer:
    injection: Injection
    expires: float


class LocalProxyBackend:
    """``ProxyBackend`` over the daemon's run routes; one per run."""

    def __init__(
        self,
        client: AsyncDaemonClient,
        *,
        run: RunSession,
        token: str,
        matcher: ProviderMatcher,
        deny_unmatched: bool,
        granted: list[str] | None,
        resolve_overrides: dict[str, tuple[str, int]] | None = None,
        max_pending_events: int = MAX_PENDING_EVENTS,
        upload_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._client = client
        self._run = run
        self._token = token
        self._matcher = matcher
        self._deny_unmatched = deny_unmatched
        self._granted = granted
        self._overrides = resolve_overrides or {}
        #: Answers by the daemon's ``Match.key`` (see the module docstring).
        self._answers: dict[tuple[str, ...], _Answer] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        #: Cached answers are used only before this ``time.monotonic()``: the daemon
        #: last accepted an upload (or gave a credential) four upload intervals before.
        self._vouched_until = 0.0
        self._vouch_window = VOUCH_INTERVALS * upload_interval
        self._events: list[dict[str, Any]] = []
        self._max_pending = max_pending_events
        #: Set when ``DEFAULT_BATCH_SIZE`` events are queued: upload before the interval ends.
        self.upload_due = asyncio.Event()
        #: Events dropped on a full queue and not yet reported to the daemon.
        self.dropped_events = 0
        #: Every event dropped during this run (reported or not).
        self.dropped_total = 0

    def run_for_token(self, token: str) -> RunSession | None:
        return self._run if hmac.compare_digest(token, self._token) else None

    def should_intercept(self, run: RunSession, host: str, port: int) -> bool:
        return self._matcher.intercepts_host(host)

    def unmatched_refusal(self, run: RunSession, host: str, port: int) -> str | None:
        if not self._deny_unmatched:
            return None
        granted = self._granted
        scope = f" (its grant lists: {', '.join(sorted(granted))})" if granted is not None else ""
        return (
            f"authsome: {host} matches no provider and this run refuses other hosts"
            f" (--deny-unmatched){scope}"
        )

    async def injection_for(
        self, run: RunSession, *, host: str, port: int, method: str, path: str
    ) -> Injection | None:
        matched = self._matcher.matched(host, path)
        if matched is None:
            return None
        key = matched.key
        cached = self._cached(key)
        if cached is not None:
            return cached
        # The engine runs the first step inline, outside any task (proxy/eager.py);
        # httpx needs a task to find its event loop, so suspend once first.
        await asyncio.sleep(0)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one daemon call per match, however many requests wait
            cached = self._cached(key)
            if cached is not None:
                return cached
            first = matched.owners[0].provider
            injection, decided, max_age = await self._ask(host, port, method, path, first)
            self._answers.pop(key, None)
            if decided is not None and injection.deny_status is None and max_age > 0:
                self._vouch()  # the daemon just checked that it can audit
                self._answers[decided] = _Answer(injection, time.monotonic() + max_age)
            return injection

    def _cached(self, key: tuple[str, ...]) -> Injection | None:
        hit = self._answers.get(key)
        if hit is None:
            return None
        now = time.monotonic()
        return hit.injection if now < hit.expires and now < self._vouched_until else None

    def _vouch(self) -> None:
        """The daemon accepted this run's events (or gave a credential) just now."""
        self._vouched_until = time.monotonic() + self._vouch_window

    def _forget_answers(self) -> None:
        """The daemon cannot write audit events: no cached credential may be used."""
        self._answers.clear()
        self._vouched_until = 0.0

    async def _ask(
        self, host: str, port: int, method: str, path: str, first: str
    ) -> tuple[Injection, tuple[str, ...] | None, float]:
        """The daemon's answer, the ``Match.key`` it was decided for, and for how long
        it may be reused."""
        body = {"host": host, "port": port, "method": method, "path": path}
        try:
            answer = await self._client.request(
                "POST", f"/runs/{self._run.run_id}/resolve", json=body
            )
        except AuditUnavailable as exc:
            self._forget_answers()
            message = f"authsome: {exc.message}\n"  # the daemon's words: no secret
            return Injection(provider=first, deny_status=503, deny_message=message), None, 0.0
        except AuthsomeError as exc:
            status = 503 if exc.exit_code in (8, 9) else 403
            message = f"authsome: the daemon refused this run's request: {exc.message}\n"
            if status == 503:
                message = f"authsome: {exc.message}\n"
            return Injection(provider=first, deny_status=status, deny_message=message), None, 0.0
        headers = tuple(
            (str(name).encode("latin-1"), str(value).encode("latin-1"))
            for name, value in dict(answer.get("headers") or {}).items()
        )
        injection = Injection(
            headers=headers,
            provider=answer.get("provider"),
            connection=answer.get("connection"),
            deny_status=answer.get("deny_status"),
            deny_message=str(answer.get("deny_message") or ""),
        )
        matched = answer.get("match")
        decided = tuple(str(field) for field in matched) if matched else None
        return injection, decided, float(answer.get("max_age") or 0.0)

    def record_request(
        self,
        run: RunSession,
        *,
        method: str,
        host: str,
        path: str,
        status: int,
        injection: Injection | None,
        outcome: str,
        reason: str | None,
        duration_ms: float,
    ) -> None:
        if status == 401 and injection is not None and injection.headers:
            # The upstream refused the credential: ask the daemon again next time.
            for key in [k for k, v in self._answers.items() if v.injection is injection]:
                del self._answers[key]
        queued = len(self._events)
        if queued >= self._max_pending:
            self.dropped_events += 1
            self.dropped_total += 1
            return
        self._events.append(
            {
                "method": method[:16],
                "host": host[:253],
                "path": path[:2048],
                "status": status,
                "provider": injection.provider if injection else None,
                "connection": injection.connection if injection else None,
                "outcome": outcome,
                "reason": reason[:300] if reason else None,
                "duration_ms": max(0.0, duration_ms),
            }
        )
        if queued + 1 == DEFAULT_BATCH_SIZE:
            self.upload_due.set()  # once per batch, not per event past it

    @property
    def pending_events(self) -> int:
        return len(self._events)

    def upstream_address(self, host: str, port: int) -> tuple[str, int]:
        return self._overrides.get(host.lower().rstrip("."), (host, port))

    async def upload_events(self) -> None:
        """Send every queued event and the count of dropped ones, in batches;
        keeps both if the daemon is away or refuses them. Each accepted batch
        vouches for the cached answers; a refusal because audit events cannot
        be written drops them all before the error goes up."""
        while self._events or self.dropped_events:
            batch = self._events[:UPLOAD_BATCH]
            dropped = self.dropped_events
            try:
                await self._client.request(
                    "POST",
                    f"/runs/{self._run.run_id}/events",
                    json={"events": batch, "dropped": dropped},
                )
            except AuditUnavailable:
                self._forget_answers()
                raise
            self._vouch()
            del self._events[: len(batch)]
            self.dropped_events -= dropped  # more may have been dropped meanwhile


def load_matcher(
    definitions: list[dict[str, Any]], instances: list[dict[str, Any]]
) -> ProviderMatcher:
    """The daemon proxy's matcher for a run, from ``GET /runs/{id}/providers``:
    the catalogue's, extended with the vault's instances in the daemon's order."""
    matcher = ProviderMatcher([ProviderDefinition.model_validate(item) for item in definitions])
    if not instances:
        return matcher
    return matcher.with_instances(
        Instance(str(item["provider"]), str(item["connection"]), str(item["base_url"]))
        for item in instances
    )


class LocalProxy:
    """The engine and its backend on an event loop of their own (a daemon thread).

    ``start`` returns once the listener is bound on loopback; ``stop`` closes
    it and uploads the remaining events before returning.
    """

    def __init__(
        self,
        *,
        base_url: str,
        key: IdentityKey,
        run_id: str,
        ca_dir: Path,
        deny_unmatched: bool,
        upstream_ca: Path | None = None,
        resolve_overrides: dict[str, tuple[str, int]] | None = None,
        max_pending_events: int = MAX_PENDING_EVENTS,
        upload_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.token = secrets.token_urlsafe(32)
        self.ca = CertificateAuthority.load_or_create(ca_dir)
        self._base_url = base_url
        self._key = key
        self._run = RunSession(run_id=run_id, identity="", principal_id=None, vault_id=None)
        self._deny_unmatched = deny_unmatched
        self._upstream_ca = upstream_ca
        self._overrides = resolve_overrides
        self._max_pending = max_pending_events
        self._upload_interval = upload_interval
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._backend: LocalProxyBackend | None = None
        self._server: ProxyServer | None = None
        self._client: AsyncDaemonClient | None = None
        self._uploader: asyncio.Task[None] | None = None
        self._stopping = False
        self.port = 0
        #: Events the daemon never got (it was unreachable at the end); the CLI says so.
        self.unsent_events = 0
        #: Events dropped on a full queue, and how many of those the daemon was never told of.
        self.dropped_events = 0
        self.unreported_drops = 0

    def start(self) -> int:
        self._thread.start()
        try:
            future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
            self.port = future.result(timeout=60)
        except BaseException:
            self.stop()
            raise
        return self.port

    async def _start(self) -> int:
        self._client = AsyncDaemonClient(self._base_url, self._key)
        setup = await self._client.request("GET", f"/runs/{self._run.run_id}/providers")
        self._backend = LocalProxyBackend(
            self._client,
            run=self._run,
            token=self.token,
            matcher=load_matcher(list(setup["providers"]), list(setup.get("instances") or [])),
            deny_unmatched=self._deny_unmatched,
            granted=setup.get("granted"),
            resolve_overrides=self._overrides,
            max_pending_events=self._max_pending,
            upload_interval=self._upload_interval,
        )
        self._server = ProxyServer(self._backend, self.ca, upstream_ca=self._upstream_ca)
        port = await self._server.start("127.0.0.1", 0)
        self._uploader = asyncio.get_running_loop().create_task(self._upload_loop())
        return port

    async def _upload_loop(self) -> None:
        """Uploads every interval, or as soon as the backend has a batch queued,
        until ``_stop``; never cancelled mid-upload, since a batch the daemon
        stored but did not acknowledge would be sent twice."""
        backend = self._backend
        assert backend is not None
        due = backend.upload_due
        failing: str | None = None  # the error of the last round: warn once per outage
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(due.wait(), self._upload_interval)
            due.clear()
            try:
                await backend.upload_events()
            except AuthsomeError as exc:
                if exc.code != failing:
                    log.warning("could not send proxy events to the daemon yet (%s)", exc.code)
                failing = exc.code
            else:
                failing = None

    def stop(self) -> None:
        """Close the listener, send the last events, stop the loop; idempotent."""
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            try:
                future.result(timeout=60)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.close()
        self._stopping = True
        if self._backend is not None:
            self._backend.upload_due.set()  # the uploader's last round, now
        try:
            if self._uploader is not None:
                await self._uploader  # its last round sends what the closed proxy recorded
            if self._backend is not None:
                self.unsent_events = self._backend.pending_events
                self.dropped_events = self._backend.dropped_total
                self.unreported_drops = self._backend.dropped_events
        finally:
            if self._client is not None:
                await self._client.aclose()

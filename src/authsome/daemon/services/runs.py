"""Run sessions: the token an `authsome run` child uses to reach the proxy.

A run lives in the memory of the daemon that started it: the run's child
talks to that daemon's proxy (its address comes back with the run token),
so no other replica ever needs the token, and the per-request lookups stay
dictionary reads.

With replicas sharing a database (team mode) a run is also written to
``run_sessions`` (without its token): `authsome run --local-proxy` asks
``/runs/{id}/…`` for decisions and credentials, and a load balancer may hand
each call to any replica, which loads the run from there. What a run depends
on can change elsewhere too: a grant changed, an identity revoked or a run
ended on another replica reaches this one through the change feed, and its
live runs follow (grant reloaded, or the runs dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, select, update

from authsome.daemon.services.caller import Caller
from authsome.daemon.services.grants import ALL, Grant
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.daemon.services.shared_changes import Change, ChangeFeed
from authsome.errors import ConnectionNotFound, InvalidInput
from authsome.proxy.backend import RunSession
from authsome.store.db import transaction
from authsome.store.models import Identity
from authsome.store.models import RunSession as RunSessionRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


#: How long an ended run's row stays in ``run_sessions``.
ENDED_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class ActiveRun:
    session: RunSession
    identity_id: str
    connections: dict[str, str] = field(default_factory=dict)  # provider -> connection name
    providers: frozenset[str] | None = None  # None: every provider the grant allows
    grant: Grant = ALL
    deny_unmatched: bool = False  # refuse hosts that match no provider (run --deny-unmatched)

    def allows(self, provider: str) -> bool:
        """Both the identity's grant and this run's own ``--provider`` list."""
        listed = self.providers is None or provider in self.providers
        return listed and self.grant.allows_provider(provider)


class RunRegistry:
    """Live runs by id; runs started here also by the SHA-256 of their token (never the token)."""

    def __init__(self) -> None:
        self._runs: dict[str, ActiveRun] = {}
        self._by_digest: dict[str, str] = {}  # token digest -> run id
        self._lock = threading.Lock()
        self._changes: ChangeFeed | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._persist = False

    def share(
        self, changes: ChangeFeed, sessions: sessionmaker[Session], *, persist: bool = False
    ) -> None:
        """Follow other replicas' grant changes, revocations and ended runs; publish ours.

        ``persist``: keep runs in the store too, for replicas sharing it.
        """
        self._changes = changes
        self._sessions = sessions
        self._persist = persist
        changes.subscribe(self._on_change, on_lost_track=lambda: None)

    def start(
        self,
        caller: Caller,
        *,
        connections: dict[str, str] | None = None,
        providers: frozenset[str] | None = None,
        deny_unmatched: bool = False,
    ) -> tuple[ActiveRun, str]:
        if caller.vault_id is None or caller.principal_id is None:
            raise InvalidInput("this identity has no vault yet")
        token = new_token()
        run = ActiveRun(
            session=RunSession(
                run_id=new_id(),
                identity=caller.handle,
                principal_id=caller.principal_id,
                vault_id=caller.vault_id,
            ),
            identity_id=caller.identity_id,
            connections=dict(connections or {}),
            providers=providers,
            grant=caller.grant,
            deny_unmatched=deny_unmatched,
        )
        if self._persist:
            self._store(run)
        with self._lock:
            self._runs[run.session.run_id] = run
            self._by_digest[token_digest(token)] = run.session.run_id
        return run, token

    def by_token(self, token: str) -> ActiveRun | None:
        run_id = self._by_digest.get(token_digest(token))
        return None if run_id is None else self._runs.get(run_id)

    def get(self, run_id: str) -> ActiveRun | None:
        """The live run; with a shared store, one another replica started is loaded."""
        run = self._runs.get(run_id)
        if run is None and self._persist:
            run = self._load(run_id)
        return run

    def end(self, run_id: str, *, identity_id: str) -> ActiveRun:
        run = self.get(run_id)
        if run is None or run.identity_id != identity_id:
            raise ConnectionNotFound("no such run for this identity")
        self._forget(lambda live: live.session.run_id == run_id)
        if self._persist:
            self._mark_ended(RunSessionRow.id == run_id)
            self._publish(identity_id)
        return run

    def regrant(self, identity_id: str, grant: Grant) -> None:
        """Apply a changed grant to the identity's live runs at once (on every replica)."""
        self._regrant_here(identity_id, grant)
        self._publish(identity_id)

    def end_all_for_identity(self, identity_id: str) -> None:
        """End the identity's live runs (on every replica)."""
        self._forget(lambda live: live.identity_id == identity_id)
        if self._persist:
            self._mark_ended(RunSessionRow.identity_id == identity_id)
        self._publish(identity_id)

    # --- the shared store -----------------------------------------------------------

    def _store(self, run: ActiveRun) -> None:
        assert self._sessions is not None
        session = run.session
        assert session.vault_id is not None and session.principal_id is not None
        with transaction(self._sessions) as db:
            db.add(
                RunSessionRow(
                    id=session.run_id,
                    identity_id=run.identity_id,
                    identity_handle=session.identity,
                    principal_id=session.principal_id,
                    vault_id=session.vault_id,
                    connections=run.connections,
                    providers=None if run.providers is None else sorted(run.providers),
                    deny_unmatched=run.deny_unmatched,
                )
            )

    def _load(self, run_id: str) -> ActiveRun | None:
        assert self._sessions is not None
        with transaction(self._sessions) as db:
            row = db.get(RunSessionRow, run_id)
            if row is None or row.ended_at is not None:
                return None
            identity = db.get(Identity, row.identity_id)
            if identity is None or identity.status != "active":
                return None
            run = ActiveRun(
                session=RunSession(
                    run_id=row.id,
                    identity=row.identity_handle,
                    principal_id=row.principal_id,
                    vault_id=row.vault_id,
                ),
                identity_id=row.identity_id,
                connections=dict(row.connections),
                providers=None if row.providers is None else frozenset(row.providers),
                grant=Grant.of(identity),
                deny_unmatched=row.deny_unmatched,
            )
        with self._lock:
            self._runs.setdefault(run_id, run)
        return run

    def _mark_ended(self, which: ColumnElement[bool]) -> None:
        assert self._sessions is not None
        now = datetime.now(UTC)
        with transaction(self._sessions) as db:
            db.execute(
                update(RunSessionRow)
                .where(which, RunSessionRow.ended_at.is_(None))
                .values(ended_at=now)
            )
            # Ended runs are only kept a day (their audit events stay).
            db.execute(delete(RunSessionRow).where(RunSessionRow.ended_at < now - ENDED_KEPT))

    def _ended_here_elsewhere(self, identity_id: str) -> set[str]:
        """Ids of this identity's live runs here that another replica has ended."""
        assert self._sessions is not None
        with self._lock:
            live = [run_id for run_id, run in self._runs.items() if run.identity_id == identity_id]
        if not live:
            return set()
        with transaction(self._sessions) as db:
            still = set(
                db.scalars(
                    select(RunSessionRow.id).where(
                        RunSessionRow.id.in_(live), RunSessionRow.ended_at.is_(None)
                    )
                )
            )
        return set(live) - still

    # --- changes -------------------------------------------------------------------

    def _publish(self, identity_id: str) -> None:
        if self._changes is not None:
            self._changes.publish(Change("identity", identity_id=identity_id))

    def _on_change(self, change: Change) -> None:
        if change.kind != "identity" or change.identity_id is None or self._sessions is None:
            return
        with self._lock:
            live = any(run.identity_id == change.identity_id for run in self._runs.values())
        if not live:
            return
        if self._persist:
            ended = self._ended_here_elsewhere(change.identity_id)
            self._forget(lambda run: run.session.run_id in ended)
        with transaction(self._sessions) as db:
            identity = db.get(Identity, change.identity_id)
            grant = Grant.of(identity) if identity is not None else None
            active = identity is not None and identity.status == "active"
        if grant is None or not active:
            self._forget(lambda run: run.identity_id == change.identity_id)
        else:
            self._regrant_here(change.identity_id, grant)

    def _regrant_here(self, identity_id: str, grant: Grant) -> None:
        with self._lock:
            for run_id, run in list(self._runs.items()):
                if run.identity_id == identity_id:
                    self._runs[run_id] = replace(run, grant=grant)

    def _forget(self, matches: Callable[[ActiveRun], bool]) -> None:
        with self._lock:
            gone = {run_id for run_id, run in self._runs.items() if matches(run)}
            for run_id in gone:
                del self._runs[run_id]
            for digest, run_id in list(self._by_digest.items()):
                if run_id in gone:
                    del self._by_digest[digest]

"""Run sessions: the token an `authsome run` child uses to reach the proxy.

Runs live in the memory of the daemon that started them, on purpose: the
run's child talks to that daemon's proxy (its address comes back with the
run token), so no other replica ever sees the token, and a run dies with
its proxy anyway. With replicas (team mode) what a run depends on can still
change elsewhere: a grant changed or an identity revoked on another replica
reaches this one through the change feed, and its live runs follow (grant
reloaded from the database, or the runs ended).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from authsome.daemon.services.caller import Caller
from authsome.daemon.services.grants import ALL, Grant
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.daemon.services.shared_changes import Change, ChangeFeed
from authsome.errors import ConnectionNotFound, InvalidInput
from authsome.proxy.backend import RunSession
from authsome.store.db import transaction
from authsome.store.models import Identity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


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
    """Live runs, looked up by the SHA-256 of their token (never the token)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, ActiveRun] = {}
        self._by_id: dict[str, str] = {}
        self._lock = threading.Lock()
        self._changes: ChangeFeed | None = None
        self._sessions: sessionmaker[Session] | None = None

    def share(self, changes: ChangeFeed, sessions: sessionmaker[Session]) -> None:
        """Follow other replicas' grant changes and revocations; publish ours."""
        self._changes = changes
        self._sessions = sessions
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
        digest = token_digest(token)
        with self._lock:
            self._by_digest[digest] = run
            self._by_id[run.session.run_id] = digest
        return run, token

    def by_token(self, token: str) -> ActiveRun | None:
        return self._by_digest.get(token_digest(token))

    def get(self, run_id: str) -> ActiveRun | None:
        digest = self._by_id.get(run_id)
        return None if digest is None else self._by_digest.get(digest)

    def end(self, run_id: str, *, identity_id: str) -> ActiveRun:
        with self._lock:
            digest = self._by_id.get(run_id)
            run = self._by_digest.get(digest) if digest else None
            if run is None or run.identity_id != identity_id:
                raise ConnectionNotFound("no such run for this identity")
            del self._by_digest[digest]  # type: ignore[arg-type]
            del self._by_id[run_id]
        return run

    def regrant(self, identity_id: str, grant: Grant) -> None:
        """Apply a changed grant to the identity's live runs at once (on every replica)."""
        self._regrant_here(identity_id, grant)
        self._publish(identity_id)

    def end_all_for_identity(self, identity_id: str) -> None:
        """End the identity's live runs (on every replica)."""
        self._end_here(identity_id)
        self._publish(identity_id)

    def _publish(self, identity_id: str) -> None:
        if self._changes is not None:
            self._changes.publish(Change("identity", identity_id=identity_id))

    def _on_change(self, change: Change) -> None:
        if change.kind != "identity" or change.identity_id is None or self._sessions is None:
            return
        with self._lock:
            live = any(run.identity_id == change.identity_id for run in self._by_digest.values())
        if not live:
            return
        with transaction(self._sessions) as db:
            identity = db.get(Identity, change.identity_id)
            grant = Grant.of(identity) if identity is not None else None
            active = identity is not None and identity.status == "active"
        if grant is None or not active:
            self._end_here(change.identity_id)
        else:
            self._regrant_here(change.identity_id, grant)

    def _regrant_here(self, identity_id: str, grant: Grant) -> None:
        with self._lock:
            for digest, run in list(self._by_digest.items()):
                if run.identity_id == identity_id:
                    self._by_digest[digest] = replace(run, grant=grant)

    def _end_here(self, identity_id: str) -> None:
        with self._lock:
            for run_id, digest in list(self._by_id.items()):
                if self._by_digest[digest].identity_id == identity_id:
                    del self._by_digest[digest]
                    del self._by_id[run_id]

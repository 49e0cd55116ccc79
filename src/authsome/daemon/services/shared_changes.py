"""The change feed between daemon replicas that share one database.

Each replica keeps a few things in memory for speed: decrypted header bytes
(``CredentialResolver``) and the grants of its live runs (``RunRegistry``).
When a replica changes what those depend on (a logout, a new login, a
provider edit, a grant or a revoked identity), it drops its own copy at once
and appends a row to ``shared_changes``; every other replica polls the table
every ``POLL_SECONDS`` and drops or reloads the same entries.

So another replica may serve the old value for at most about one poll
interval after the change commits. Two backstops bound the rare worse cases:
a replica that cannot poll (database away) forgets everything it cached, and
a replica that died between its commit and its feed row leaves caches that
expire after ``credentials.SHARED_MAX_AGE_SECONDS``.

On the embedded SQLite store there is one daemon per home, so the feed is
off (``enabled`` false) and costs nothing.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.store.db import transaction
from authsome.store.models import SharedChange

log = logging.getLogger("authsome.daemon")

POLL_SECONDS = 0.25
#: Rows older than this are deleted (every replica has read them long before).
KEEP_ROWS = timedelta(minutes=10)
_PRUNE_EVERY = 400  # polls
#: Sequence numbers are handed out before commit, so a lower one may commit
#: after a higher one was read: rows this recent are read again (once each).
LATE_COMMIT_WINDOW = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # connection | provider | identity
    vault_id: str | None = None
    provider: str | None = None
    identity_id: str | None = None


Listener = Callable[[Change], None]
LostTrack = Callable[[], None]


class ChangeFeed:
    def __init__(self, sessions: sessionmaker[Session], *, enabled: bool) -> None:
        self._sessions = sessions
        self.enabled = enabled
        self.origin = secrets.token_hex(8)
        self._listeners: list[Listener] = []
        self._lost_track: list[LostTrack] = []
        self._last_seq: int | None = None
        self._recent: dict[int, datetime] = {}  # seqs read inside the late-commit window
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, listener: Listener, *, on_lost_track: LostTrack) -> None:
        """``listener`` gets every other replica's change; ``on_lost_track`` is
        called when changes may have been missed (drop everything cached)."""
        self._listeners.append(listener)
        self._lost_track.append(on_lost_track)

    def publish(self, change: Change) -> None:
        """Tell the other replicas (after the change itself has committed)."""
        if not self.enabled:
            return
        try:
            with transaction(self._sessions) as db:
                db.execute(
                    insert(SharedChange).values(
                        kind=change.kind,
                        origin=self.origin,
                        vault_id=change.vault_id,
                        provider=change.provider,
                        identity_id=change.identity_id,
                        created_at=datetime.now(UTC),
                    )
                )
        except Exception as exc:  # the change is committed; caches expire on their own
            log.error(
                "could not tell other replicas about a %s change (%s); their caches "
                "expire within their maximum age",
                change.kind,
                type(exc).__name__,
            )

    def start(self) -> None:
        """Poll in a background thread (no-op when disabled or started)."""
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="authsome-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def poll_once(self) -> int:
        """Read and apply new rows from other replicas; how many were applied."""
        now = datetime.now(UTC)
        with transaction(self._sessions) as db:
            if self._last_seq is None:
                self._last_seq = db.scalar(select(func.max(SharedChange.seq))) or 0
                return 0
            last = self._last_seq
            rows = db.execute(
                select(
                    SharedChange.seq,
                    SharedChange.kind,
                    SharedChange.origin,
                    SharedChange.vault_id,
                    SharedChange.provider,
                    SharedChange.identity_id,
                )
                .where(
                    or_(
                        SharedChange.seq > last,
                        SharedChange.created_at >= now - LATE_COMMIT_WINDOW,
                    )
                )
                .order_by(SharedChange.seq)
            ).all()
        for seq, seen_at in list(self._recent.items()):
            if seen_at < now - 2 * LATE_COMMIT_WINDOW:
                del self._recent[seq]
        applied = 0
        for seq, kind, origin, vault_id, provider, identity_id in rows:
            if seq in self._recent:
                continue
            self._recent[seq] = now
            last = max(last, seq)
            self._last_seq = last
            if origin == self.origin:
                continue
            change = Change(kind, vault_id, provider, identity_id)
            for listener in self._listeners:
                listener(change)
            applied += 1
        return applied

    def _run(self) -> None:
        polls = 0
        healthy = True
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll_once()
                polls += 1
                if polls % _PRUNE_EVERY == 0:
                    self._prune()
            except Exception as exc:
                if healthy:
                    log.error(
                        "cannot read other replicas' changes (%s); cached credentials "
                        "are dropped until it works again",
                        type(exc).__name__,
                    )
                healthy = False
                for forget in self._lost_track:
                    forget()
                continue
            healthy = True

    def _prune(self) -> None:
        with transaction(self._sessions) as db:
            cutoff = datetime.now(UTC) - KEEP_ROWS
            db.execute(delete(SharedChange).where(SharedChange.created_at < cutoff))

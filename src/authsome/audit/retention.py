"""Retention: delete the oldest events, keeping the rest of the chain verifiable.

Only a prefix of the chain (by id) is ever deleted. In the same transaction
an ``audit_pruned`` checkpoint is appended that names the first kept id and
the hash the remaining chain starts from (the hash of the last deleted
event), so ``verify_chain`` accepts the new start and still catches any
other deletion. Each transaction deletes at most ``chunk`` events, so the
write lock is never held for long; a big backlog makes several checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.chain import CHECKPOINT_EVENT, append_events, chain_tail, format_ts, lock_chain
from authsome.store.models import AuditEvent

log = logging.getLogger("authsome.audit")
DEFAULT_CHUNK = 20_000
RETENTION_INTERVAL = 3600.0


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    first_kept_id: int
    starts_from: str
    complete: bool  # nothing older than ``before`` is left (but checkpoints)


def prune_chunk(session: Session, *, before: datetime, chunk: int = DEFAULT_CHUNK) -> PruneResult:
    """Delete up to ``chunk`` of the oldest events written before ``before``."""
    lock_chain(session)
    oldest = session.scalar(select(func.min(AuditEvent.id)))
    if oldest is None:
        return PruneResult(0, 0, "", complete=True)
    tail_id, _ = chain_tail(session)
    newer = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.ts >= before))
    # The first event to keep: the oldest one not older than ``before`` (or, when
    # every event is older, the checkpoint itself), capped at one chunk's worth.
    target = tail_id + 1 if newer is None else newer
    first_kept = min(target, oldest + chunk)
    if first_kept <= oldest:
        return PruneResult(0, oldest, "", complete=True)
    last_deleted = session.execute(
        select(AuditEvent.hash).where(AuditEvent.id < first_kept).order_by(AuditEvent.id.desc())
    ).first()
    assert last_deleted is not None and last_deleted[0] is not None
    starts_from = str(last_deleted[0])
    deleted = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.id < first_kept)
    )
    append_events(
        session,
        [
            {
                "event": CHECKPOINT_EVENT,
                "outcome": "success",
                "detail": {
                    "first_kept_id": first_kept,
                    "starts_from": starts_from,
                    "deleted": deleted,
                    "before": format_ts(before),
                },
            }
        ],
    )
    session.execute(delete(AuditEvent).where(AuditEvent.id < first_kept))
    return PruneResult(int(deleted or 0), first_kept, starts_from, complete=first_kept == target)


def prune_older_than(
    sessions: sessionmaker[Session], days: int, *, now: datetime | None = None
) -> int:
    """Delete every event older than ``days`` days, chunk by chunk; return how many."""
    before = (now or datetime.now(UTC)) - timedelta(days=days)
    total = 0
    while True:
        with sessions() as session, session.begin():
            result = prune_chunk(session, before=before)
        total += result.deleted
        if result.complete:
            return total


async def run_retention(
    sessions: sessionmaker[Session], days: int, *, interval: float = RETENTION_INTERVAL
) -> None:
    """Prune at start and then every ``interval`` seconds, until cancelled."""
    while True:
        try:
            deleted = await asyncio.to_thread(prune_older_than, sessions, days)
            if deleted:
                log.info("audit retention: deleted %d events older than %d days", deleted, days)
        except Exception as exc:
            log.error("audit retention failed (%s); will retry", type(exc).__name__)
        await asyncio.sleep(interval)

"""Failed sign-ins, counted per email and per client, with exponential back-off.

Counters live in the database (``sign_in_throttle``) so that several daemon
replicas behind one load balancer share them (DESIGN §8). Emails are stored
only as their SHA-256. A client gets more free attempts than one email, since
several people may sign in from behind one address.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.store.models import SignInThrottle

MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Limit:
    key: str
    free_failures: int


def limits_for(email: str, client: str | None) -> tuple[Limit, ...]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    found = [Limit(f"email:{digest}", 5)]
    if client:
        found.append(Limit(f"client:{client[:64]}", 20))
    return tuple(found)


def retry_after(session: Session, limits: tuple[Limit, ...], now: datetime) -> int:
    """Seconds until another attempt is allowed (0: allowed now)."""
    keys = [limit.key for limit in limits]
    rows = session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(keys)))
    waits = [
        (row.blocked_until - now).total_seconds()
        for row in rows
        if row.blocked_until is not None and row.blocked_until > now
    ]
    return math.ceil(max(waits)) if waits else 0


def delay_after(failures: int, free_failures: int) -> timedelta:
    """1 s after the first failure past the free ones, doubling, at most 15 min."""
    over = failures - free_failures
    if over <= 0:
        return timedelta(0)
    return min(MAX_DELAY, timedelta(seconds=2 ** min(over - 1, 20)))


def record_failure(session: Session, limits: tuple[Limit, ...], now: datetime) -> None:
    for limit in limits:
        row = session.get(SignInThrottle, limit.key, with_for_update=True)
        if row is None:
            row = SignInThrottle(key=limit.key, failures=0, last_failure_at=now)
            session.add(row)
        elif now - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        delay = delay_after(row.failures, limit.free_failures)
        row.blocked_until = now + delay if delay else None


def clear(session: Session, limit: Limit) -> None:
    """Forget one counter (an email's, after a successful sign-in)."""
    row = session.get(SignInThrottle, limit.key)
    if row is not None:
        session.delete(row)

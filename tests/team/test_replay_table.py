"""The shared PoP replay table (``pop_replay``) on a real PostgreSQL database.

Expired rows are deleted by whichever replica prunes next, at most once per
``PRUNE_EVERY_SECONDS`` per replica; rows still inside the window stay and
keep refusing their ``jti``, on this replica and on any other.

The prune interval is measured on the module's monotonic clock, which the
tests replace with one they move by hand (waiting 30 s is not an option);
the database, its clock-independent ``expires_at`` comparison and the
insert-or-fail are the real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services import replay
from authsome.daemon.services.replay import (
    PRUNE_EVERY_SECONDS,
    REPLAY_TTL_SECONDS,
    DatabaseReplayCache,
)
from authsome.errors import PopReplayed
from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction
from authsome.store.models import PopReplay


@dataclass
class ManualClock:
    """Stands in for the ``time`` module inside ``replay``: only ``monotonic`` is read."""

    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = create_store_engine(postgres_url)
    migrate(made)
    assert made.dialect.name == "postgresql"
    yield made
    made.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    manual = ManualClock()
    monkeypatch.setattr(replay, "time", manual)
    return manual


def _digest(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def _plant(sessions: sessionmaker[Session], jti: str, expires_at: datetime) -> None:
    """A row as another replica would have left it."""
    with transaction(sessions) as db:
        db.add(PopReplay(jti_hash=_digest(jti), expires_at=expires_at))


def _stored(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as db:
        return set(db.scalars(select(PopReplay.jti_hash)))


def test_expired_rows_are_pruned_at_most_once_per_interval(
    sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    now = datetime.now(UTC)
    _plant(sessions, "expired-long-ago", now - timedelta(seconds=REPLAY_TTL_SECONDS))
    _plant(sessions, "expired-just-now", now - timedelta(seconds=1))
    _plant(sessions, "inside-the-window", now + timedelta(seconds=60))
    cache = DatabaseReplayCache(sessions, "postgresql")

    cache.check_and_remember("first-request")  # the replica's first check prunes
    assert _stored(sessions) == {_digest("inside-the-window"), _digest("first-request")}

    # Another expired row appears; within the interval this replica does not prune again.
    _plant(sessions, "expired-later", now - timedelta(seconds=5))
    clock.now += PRUNE_EVERY_SECONDS - 0.5
    cache.check_and_remember("second-request")
    assert _digest("expired-later") in _stored(sessions)

    # Once the interval is over, the next check prunes it.
    clock.now += 1.0
    cache.check_and_remember("third-request")
    assert _stored(sessions) == {
        _digest(jti)
        for jti in ("inside-the-window", "first-request", "second-request", "third-request")
    }


def test_a_jti_inside_the_window_is_refused_after_a_prune(
    sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    now = datetime.now(UTC)
    _plant(sessions, "stale", now - timedelta(seconds=1))
    on_a = DatabaseReplayCache(sessions, "postgresql")
    on_b = DatabaseReplayCache(sessions, "postgresql")  # another replica, same table

    on_a.check_and_remember("used-once")  # remembered, and the stale row pruned
    assert _digest("stale") not in _stored(sessions)
    for cache in (on_a, on_b):
        with pytest.raises(PopReplayed):
            cache.check_and_remember("used-once")

    # A proof first used 110 s ago (its row written then) is still refused after prunes.
    _plant(sessions, "older-proof", now + timedelta(seconds=REPLAY_TTL_SECONDS - 110))
    clock.now += PRUNE_EVERY_SECONDS + 1  # so B's and A's next checks prune
    on_b.check_and_remember("fresh-on-b")
    on_a.check_and_remember("fresh-on-a")
    for cache in (on_a, on_b):
        with pytest.raises(PopReplayed):
            cache.check_and_remember("older-proof")
    assert _digest("older-proof") in _stored(sessions)

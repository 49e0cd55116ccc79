"""Browser sessions: idle and absolute expiry, ending, CSRF token binding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services.principals import register_principal
from authsome.daemon.services.web_sessions import (
    ABSOLUTE,
    IDLE,
    csrf_token,
    end_all_sessions,
    load_session,
    start_session,
)
from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _start(sessions: sessionmaker[Session], now: datetime) -> str:
    with transaction(sessions) as db:
        principal = register_principal(db, "a@example.com", "a long enough passphrase")
        return start_session(db, principal, client="127.0.0.1", user_agent="test", now=now)


def _alive(sessions: sessionmaker[Session], token: str, now: datetime) -> bool:
    with transaction(sessions) as db:
        return load_session(db, token, now) is not None


def test_idle_expiry_is_pushed_back_by_use(sessions: sessionmaker[Session]) -> None:
    start = datetime.now(UTC)
    token = _start(sessions, start)
    step = IDLE - timedelta(minutes=5)
    assert _alive(sessions, token, start + step)
    assert _alive(sessions, token, start + 2 * step)  # used in between: still alive
    assert not _alive(sessions, token, start + 2 * step + IDLE)


def test_absolute_expiry_wins_over_activity(sessions: sessionmaker[Session]) -> None:
    start = datetime.now(UTC)
    token = _start(sessions, start)
    moment = start
    while moment + IDLE / 2 < start + ABSOLUTE:
        moment += IDLE / 2
        assert _alive(sessions, token, moment)
    assert not _alive(sessions, token, start + ABSOLUTE + timedelta(seconds=1))


def test_ended_sessions_and_unknown_tokens_are_refused(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    token = _start(sessions, now)
    assert not _alive(sessions, "x" * 43, now)
    with transaction(sessions) as db:
        principal_id = load_session(db, token, now).principal_id  # type: ignore[union-attr]
        assert end_all_sessions(db, principal_id, now) == 1
    assert not _alive(sessions, token, now)


def test_csrf_token_is_bound_to_the_cookie() -> None:
    assert csrf_token("a" * 43) == csrf_token("a" * 43)
    assert csrf_token("a" * 43) != csrf_token("b" * 43)
    assert "a" * 43 not in csrf_token("a" * 43)

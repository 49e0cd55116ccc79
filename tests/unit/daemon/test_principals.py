"""Principals against a real (temporary) SQLite store: first admin, rehash, throttle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.daemon.services import throttle
from authsome.daemon.services.passwords import check_password_strength, verify_password
from authsome.daemon.services.principals import register_principal, sign_in
from authsome.errors import InvalidInput, OperationNotAllowed
from authsome.store.db import create_store_engine, make_session_factory, migrate, transaction
from authsome.store.models import AuditEvent, Principal

PASSWORD = "a long enough passphrase"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_first_principal_is_admin_then_registration_is_closed(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as db:
        first = register_principal(db, "First@Example.com ", PASSWORD)
    assert (first.email, first.role) == ("first@example.com", "admin")
    with pytest.raises(OperationNotAllowed), transaction(sessions) as db:
        register_principal(db, "second@example.com", PASSWORD)
    with transaction(sessions) as db:  # the refused one left nothing behind
        assert [p.email for p in db.scalars(select(Principal))] == ["first@example.com"]


def test_password_is_rehashed_when_the_parameters_change(sessions: sessionmaker[Session]) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with transaction(sessions) as db:
        principal = register_principal(db, "old@example.com", PASSWORD)
        principal.password_hash = weak.hash(PASSWORD)
        old_hash = principal.password_hash
    with transaction(sessions) as db:
        outcome = sign_in(db, "old@example.com", PASSWORD, client="10.0.0.1", via="test")
        assert outcome.principal is not None
    with transaction(sessions) as db:
        stored = db.scalar(select(Principal.password_hash))
    assert stored is not None and stored != old_hash
    assert "m=65536" in stored and verify_password(stored, PASSWORD)
    with transaction(sessions) as db:  # unchanged parameters: no second rehash
        sign_in(db, "old@example.com", PASSWORD, client="10.0.0.1", via="test")
        assert db.scalar(select(Principal.password_hash)) == stored


def test_unknown_email_still_runs_argon2_and_is_audited(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as db:
        register_principal(db, "known@example.com", PASSWORD)
    with transaction(sessions) as db:
        outcome = sign_in(db, "nobody@example.com", PASSWORD, client=None, via="test")
        assert outcome.principal is None and outcome.retry_after == 0
        assert outcome.error().code == "authentication_failed"
    with transaction(sessions) as db:
        events = [(e.event, e.outcome) for e in db.scalars(select(AuditEvent))]
    assert ("principal_sign_in", "failure") in events


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x" * 11, "at least 12"),
        ("qwerty123456", "too common"),
        ("QWERTY123456", "too common"),
        ("abababababab", "too common"),
        ("someone@example.com", "email"),
        ("someone-long", None),
        ("x" * 1025, "at most"),
    ],
)
def test_password_strength(password: str, message: str | None) -> None:
    if message is None:
        check_password_strength(password, email="someone@example.com")
        return
    with pytest.raises(InvalidInput, match=message):
        check_password_strength(password, email="someone@example.com")


def test_back_off_doubles_and_is_capped() -> None:
    delays = [throttle.delay_after(n, 5).total_seconds() for n in range(1, 20)]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5:10] == [1, 2, 4, 8, 16]
    assert max(delays) == throttle.MAX_DELAY.total_seconds() == 900


def test_old_failures_are_forgotten(sessions: sessionmaker[Session]) -> None:
    limits = throttle.limits_for("a@example.com", "127.0.0.1")
    start = datetime.now(UTC)
    with transaction(sessions) as db:
        for _ in range(6):
            throttle.record_failure(db, limits, start)
        assert throttle.retry_after(db, limits, start) == 1
        assert throttle.retry_after(db, limits, start + timedelta(seconds=2)) == 0
        later = start + throttle.FORGET_AFTER + timedelta(minutes=1)
        throttle.record_failure(db, limits, later)  # counts from one again
        assert throttle.retry_after(db, limits, later) == 0


def test_the_dummy_hash_costs_what_a_real_one_does() -> None:
    from authsome.daemon.services import passwords

    # Same algorithm and parameters as new hashes, so an unknown email takes
    # as long as a wrong password; and it is a hash of a known dummy.
    assert not passwords._hasher.check_needs_rehash(passwords._DUMMY_HASH)
    assert passwords._hasher.verify(passwords._DUMMY_HASH, "authsome-dummy-password-for-timing")


def test_an_invite_taken_meanwhile_is_not_used_twice(sessions: sessionmaker[Session]) -> None:
    """PostgreSQL lets two registrations read the same open invite; only one may use it."""
    from sqlalchemy import update

    from authsome.daemon.services.invites import create_invite, find_usable_invite, use_invite
    from authsome.store.models import Invite

    now = datetime.now(UTC)
    with transaction(sessions) as db:
        admin = register_principal(db, "admin@example.com", PASSWORD)
        token = create_invite(db, created_by=admin.id, now=now).token
    with transaction(sessions) as db:
        seen = find_usable_invite(db, token, now)
        assert seen is not None
        # The other registration commits first (what a read-committed reader then sees).
        db.execute(update(Invite).values(token_hash=None, used_by="someone-else", used_at=now))
        assert use_invite(db, seen, "late-comer", now) is False
        assert db.scalar(select(Invite.used_by)) == "someone-else"
    with transaction(sessions) as db:
        fresh = create_invite(db, created_by=admin.id, now=now)
        assert use_invite(db, fresh.invite, "first", now) is True
        assert find_usable_invite(db, fresh.token, now) is None  # single use

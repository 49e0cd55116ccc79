"""Browser sessions: server-side records behind an HttpOnly cookie.

The cookie holds a random token; the table holds its SHA-256. A session ends
at sign-out, at a password change, when an admin ends it, after ``IDLE``
without a request, or ``ABSOLUTE`` after sign-in, whichever comes first.

The CSRF token is an HMAC of the cookie token, so it is bound to the session
without being stored, and a page that leaks it does not leak the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.errors import ConnectionNotFound
from authsome.store.models import Principal, WebSession

IDLE = timedelta(hours=1)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # coarse last-seen writes


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a valid session cookie."""

    session_id: str
    principal_id: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def csrf_token(cookie_token: str) -> str:
    """The form token for the browser holding ``cookie_token``."""
    return hmac.new(cookie_token.encode(), b"authsome csrf v1", hashlib.sha256).hexdigest()


def start_session(
    session: Session,
    principal: Principal,
    *,
    client: str | None,
    user_agent: str | None,
    now: datetime,
) -> str:
    """Record a new session for ``principal``; returns the cookie token (shown once)."""
    token = new_token()
    session.add(
        WebSession(
            id=new_id(),
            token_hash=token_digest(token),
            principal_id=principal.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
            client=(client or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    return token


def is_live(row: WebSession, now: datetime) -> bool:
    return row.ended_at is None and row.expires_at > now and now - row.last_seen_at < IDLE


def load_session(session: Session, cookie_token: str, now: datetime) -> SignedIn | None:
    """The signed-in principal for this cookie, or None if ended, expired or unknown."""
    row = session.scalar(
        select(WebSession).where(WebSession.token_hash == token_digest(cookie_token))
    )
    if row is None or not is_live(row, now):
        return None
    principal = session.get(Principal, row.principal_id)
    if principal is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SignedIn(row.id, principal.id, principal.email, principal.role)


def end_session(session: Session, session_id: str, *, by: SignedIn, now: datetime) -> None:
    """End one session: the owner may end theirs, an admin any (others' look absent)."""
    row = session.get(WebSession, session_id)
    if (
        row is None
        or row.ended_at is not None
        or not (row.principal_id == by.principal_id or by.is_admin)
    ):
        raise ConnectionNotFound("no such session")
    row.ended_at = now
    record_event(
        session,
        "session_ended",
        "success",
        principal_id=row.principal_id,
        detail={"by": by.principal_id, "session": row.id},
    )


def end_all_sessions(session: Session, principal_id: str, now: datetime) -> int:
    result = session.execute(
        update(WebSession)
        .where(WebSession.principal_id == principal_id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def live_sessions(
    session: Session,
    now: datetime,
    *,
    principal_id: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[WebSession, str]], int]:
    """Live sessions (of one principal, or all when None) with their emails, newest first."""
    where = [
        WebSession.ended_at.is_(None),
        WebSession.expires_at > now,
        WebSession.last_seen_at > now - IDLE,
    ]
    if principal_id is not None:
        where.append(WebSession.principal_id == principal_id)
    total = session.scalar(select(func.count()).select_from(WebSession).where(*where)) or 0
    rows = session.execute(
        select(WebSession, Principal.email)
        .join(Principal, Principal.id == WebSession.principal_id)
        .where(*where)
        .order_by(WebSession.last_seen_at.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows], total

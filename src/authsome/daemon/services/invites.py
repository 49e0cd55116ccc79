"""Invite links: how an admin lets one more person register while registration is closed.

Single use and expiring; only the token's SHA-256 is stored, so the link is
shown once, when it is made.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.errors import ConnectionNotFound
from authsome.store.models import Invite

INVITE_LIFETIME = timedelta(days=3)


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, in the link


def create_invite(session: Session, *, created_by: str, now: datetime) -> NewInvite:
    token = new_token()
    invite = Invite(
        id=new_id(),
        token_hash=token_digest(token),
        created_by=created_by,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    record_event(session, "invite_created", "success", principal_id=created_by)
    return NewInvite(invite, token)


def find_usable_invite(session: Session, token: str, now: datetime) -> Invite | None:
    """The unused, unexpired invite behind ``token``, or None (one answer for every miss)."""
    digest = token_digest(token)
    invite = session.scalar(select(Invite).where(Invite.token_hash == digest))
    if invite is None or invite.token_hash is None:
        return None
    if not hmac.compare_digest(invite.token_hash, digest) or invite.expires_at <= now:
        return None
    return invite


def use_invite(session: Session, invite: Invite, principal_id: str, now: datetime) -> bool:
    """Use ``invite`` up; False when a concurrent registration took it first.

    One conditional UPDATE, so two registrations racing on one link cannot
    both win on any database (not only under SQLite's serialised writes).
    """
    result = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.token_hash.is_not(None))
        .values(used_at=now, used_by=principal_id, token_hash=None)  # never matches again
        .execution_options(synchronize_session=False)
    )
    session.expire(invite)
    return getattr(result, "rowcount", 0) == 1


def revoke_invite(session: Session, invite_id: str, *, by: str, now: datetime) -> None:
    invite = session.get(Invite, invite_id)
    if invite is None or invite.token_hash is None:
        raise ConnectionNotFound("no open invite with that id")
    invite.token_hash = None
    invite.revoked_at = now
    record_event(session, "invite_revoked", "success", principal_id=by)


def open_invites(
    session: Session, now: datetime, *, offset: int, limit: int
) -> tuple[list[Invite], int]:
    """Invites that can still be used, newest first, and how many there are."""
    where = (Invite.token_hash.is_not(None), Invite.expires_at > now)
    total = session.scalar(select(func.count()).select_from(Invite).where(*where)) or 0
    rows = session.scalars(
        select(Invite).where(*where).order_by(Invite.created_at.desc()).offset(offset).limit(limit)
    )
    return list(rows), total

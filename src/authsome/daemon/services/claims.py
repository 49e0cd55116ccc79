"""Deciding a claim in the browser: the signed-in principal accepts or rejects.

A token that is unknown, used, expired or whose identity is no longer
pending gets one and the same answer (``ConnectionNotFound``), so the page
says nothing about which tokens ever existed (STYLE 13).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.daemon.services.grants import Grant, set_grant
from authsome.daemon.services.identities import accept_claim
from authsome.daemon.services.ids import token_digest
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import ConnectionNotFound
from authsome.store.models import Claim, Identity, Principal

NOT_VALID = "this claim link is not valid: it was used, it expired, or it never existed"


@dataclass(frozen=True)
class PendingClaim:
    claim: Claim
    identity: Identity


def find_pending_claim(session: Session, token: str, now: datetime) -> PendingClaim | None:
    digest = token_digest(token)
    claim = session.scalar(select(Claim).where(Claim.token_hash == digest))
    if (
        claim is None
        or claim.token_hash is None
        or not hmac.compare_digest(claim.token_hash, digest)
    ):
        return None
    identity = session.get(Identity, claim.identity_id)
    if (
        identity is None
        or identity.status != "pending"
        or claim.state != "pending"
        or claim.expires_at <= now
    ):
        return None
    return PendingClaim(claim, identity)


def _take(session: Session, token: str, now: datetime) -> PendingClaim:
    """The pending claim behind ``token``, its token used up by this transaction.

    One conditional UPDATE, so two decisions racing on one link cannot both
    win on any database (not only under SQLite's serialised writes).
    """
    found = find_pending_claim(session, token, now)
    if found is not None:
        result = session.execute(
            update(Claim)
            .where(
                Claim.id == found.claim.id, Claim.token_hash.is_not(None), Claim.state == "pending"
            )
            .values(token_hash=None, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            return found
    raise ConnectionNotFound(NOT_VALID, hint="run `authsome init` again for a fresh link")


def accept_browser_claim(
    session: Session,
    keys: VaultKeys,
    token: str,
    principal: Principal,
    grant: Grant,
    now: datetime,
) -> Identity:
    """Bind the identity to ``principal`` with ``grant``; creates the vault if needed."""
    found = _take(session, token, now)
    keys.ensure_vault(session, principal)
    set_grant(session, found.identity, grant, by=principal.id)
    accept_claim(session, found.identity, principal, via="browser")
    return found.identity


def reject_browser_claim(
    session: Session, token: str, principal: Principal, now: datetime
) -> Identity:
    """Refuse the claim; the identity stays pending and unbound (init can ask again)."""
    found = _take(session, token, now)
    found.claim.state = "rejected"
    found.claim.token_hash = None
    found.claim.decided_at = now
    found.claim.principal_id = principal.id
    record_event(
        session,
        "claim_rejected",
        "success",
        identity=found.identity.handle,
        principal_id=principal.id,
    )
    return found.identity

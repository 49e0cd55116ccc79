"""Registering agent identities and deciding their claims (DESIGN §1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.audit.writer import record_event
from authsome.crypto.handles import new_handle
from authsome.crypto.identity_keys import did_key_from_jwk, jwk_thumbprint
from authsome.daemon.services.ids import new_id, new_token, token_digest
from authsome.store.models import Claim, Identity, Principal

CLAIM_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class Registration:
    identity: Identity
    claim_token: str | None  # only when this call created the identity


def register_identity(
    session: Session, jwk: dict[str, str], *, registered_from: str | None
) -> Registration:
    """Register the key in ``jwk`` as a pending identity with a claim token.

    Registering a key that is already known returns it unchanged; if it is
    still pending, it gets a fresh claim token and any earlier one stops
    working (only the key's holder can ask, and the old link may be lost).
    """
    jkt = jwk_thumbprint(jwk)
    existing = session.scalar(select(Identity).where(Identity.jkt == jkt))
    if existing is not None:
        token = issue_claim(session, existing) if existing.status == "pending" else None
        return Registration(existing, token)
    identity = Identity(
        id=new_id(),
        handle=_unused_handle(session),
        did=did_key_from_jwk(jwk),
        jkt=jkt,
        public_jwk=dict(jwk),
        status="pending",
        registered_from=registered_from,
    )
    session.add(identity)
    session.flush()  # the claim below refers to it
    token = issue_claim(session, identity)
    record_event(session, "identity_registered", "success", identity=identity.handle)
    return Registration(identity, token)


def issue_claim(session: Session, identity: Identity) -> str:
    """A new single-use claim token for a pending identity; earlier ones expire."""
    now = datetime.now(UTC)
    for claim in session.scalars(
        select(Claim).where(Claim.identity_id == identity.id, Claim.state == "pending")
    ):
        claim.state = "expired"
        claim.token_hash = None
        claim.decided_at = now
    token = new_token()
    session.add(
        Claim(
            id=new_id(),
            identity_id=identity.id,
            token_hash=token_digest(token),
            state="pending",
            created_at=now,
            expires_at=now + CLAIM_LIFETIME,
        )
    )
    return token


def latest_claim(session: Session, identity_id: str) -> Claim | None:
    """The identity's newest claim, read only (never creates or reveals a token)."""
    query = (
        select(Claim)
        .where(Claim.identity_id == identity_id)
        .order_by(Claim.created_at.desc(), Claim.id)
        .limit(1)
    )
    return session.scalars(query).first()


def claim_state(claim: Claim | None, now: datetime) -> str | None:
    """``pending``/``accepted``/``rejected``/``expired``; a lapsed pending claim is expired."""
    if claim is None:
        return None
    if claim.state == "pending" and claim.expires_at <= now:
        return "expired"
    return claim.state


def _unused_handle(session: Session) -> str:
    for _ in range(20):
        handle = new_handle()
        if session.scalar(select(Identity.id).where(Identity.handle == handle)) is None:
            return handle
    raise RuntimeError("could not find a free identity handle")


def accept_claim(
    session: Session, identity: Identity, principal: Principal, *, via: str = "headless"
) -> None:
    """Bind ``identity`` to ``principal`` and activate it (headless or browser claim)."""
    now = datetime.now(UTC)
    for claim in session.scalars(
        select(Claim).where(Claim.identity_id == identity.id, Claim.state == "pending")
    ):
        claim.state = "accepted" if claim.expires_at > now else "expired"
        claim.principal_id = principal.id if claim.state == "accepted" else None
        claim.decided_at = now
        claim.token_hash = None  # single use: the token can never match again
    identity.status = "active"
    identity.principal_id = principal.id
    record_event(
        session,
        "claim_accepted",
        "success",
        identity=identity.handle,
        principal_id=principal.id,
        detail={"via": via},
    )


def revoke_identity(
    session: Session, identity: Identity, *, by: str, principal_id: str | None
) -> None:
    """Revoke ``identity``: its next request gets ``identity_revoked``."""
    identity.status = "revoked"
    identity.revoked_at = datetime.now(UTC)
    record_event(
        session,
        "identity_revoked",
        "success",
        identity=identity.handle,
        principal_id=principal_id,
        detail={"by": by},
    )

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

    Registering a key that is already known returns it unchanged and makes no
    new claim: the claim token is shown once, to the caller who created it.
    """
    jkt = jwk_thumbprint(jwk)
    existing = session.scalar(select(Identity).where(Identity.jkt == jkt))
    if existing is not None:
        return Registration(existing, None)
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
    token = new_token()
    session.add(
        Claim(
            id=new_id(),
            identity_id=identity.id,
            token_hash=token_digest(token),
            state="pending",
            expires_at=datetime.now(UTC) + CLAIM_LIFETIME,
        )
    )
    record_event(session, "identity_registered", "success", identity=identity.handle)
    return Registration(identity, token)


def _unused_handle(session: Session) -> str:
    for _ in range(20):
        handle = new_handle()
        if session.scalar(select(Identity.id).where(Identity.handle == handle)) is None:
            return handle
    raise RuntimeError("could not find a free identity handle")


def accept_claim(session: Session, identity: Identity, principal: Principal) -> None:
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
        detail={"via": "headless"},
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

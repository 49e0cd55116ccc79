"""Who is calling: PoP verification, replay check and identity lookup."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.crypto.pop import VerifiedProof, verify_proof
from authsome.daemon.services.grants import ALL, Grant
from authsome.daemon.services.replay import ReplayCache
from authsome.errors import (
    IdentityPending,
    IdentityRevoked,
    IdentityUnknown,
    PopMissing,
)
from authsome.store.models import Identity, Principal, Vault


@dataclass(frozen=True)
class Caller:
    """An authenticated identity and what it acts for."""

    identity_id: str
    handle: str
    jkt: str
    status: str
    principal_id: str | None
    role: str | None
    email: str | None
    vault_id: str | None
    grant: Grant = ALL


def verify_request_proof(
    replay: ReplayCache,
    *,
    header: str | None,
    method: str,
    url: str,
    body: bytes,
    now: float | None = None,
) -> VerifiedProof:
    """Check the ``DPoP`` header's proof and consume its ``jti``."""
    if not header:
        raise PopMissing(
            "this route needs a DPoP proof header", hint="use the authsome CLI or client"
        )
    proof = verify_proof(
        header, method=method, url=url, body=body, now=time.time() if now is None else now
    )
    replay.check_and_remember(proof.jti)
    return proof


def load_caller(session: Session, jkt: str, *, allow_pending: bool = False) -> Caller:
    """The identity behind ``jkt``, refused unless it may act now."""
    identity = session.scalar(select(Identity).where(Identity.jkt == jkt))
    if identity is None:
        raise IdentityUnknown("this identity is not registered", hint="run `authsome init`")
    if identity.status == "revoked":
        raise IdentityRevoked("this identity was revoked", hint="run `authsome init` for a new one")
    if identity.status != "active" and not allow_pending:
        raise IdentityPending(
            "this identity has not been claimed by a principal yet",
            hint="run `authsome init --email YOU@EXAMPLE.COM` or open the claim link",
        )
    principal = session.get(Principal, identity.principal_id) if identity.principal_id else None
    vault = (
        session.scalar(select(Vault).where(Vault.principal_id == principal.id))
        if principal is not None
        else None
    )
    now = datetime.now(UTC)
    if identity.last_seen_at is None or (now - identity.last_seen_at).total_seconds() > 60:
        # Coarse on purpose: a write on every request would serialise all readers.
        identity.last_seen_at = now
    return Caller(
        identity_id=identity.id,
        handle=identity.handle,
        jkt=identity.jkt,
        status=identity.status,
        principal_id=principal.id if principal else None,
        role=principal.role if principal else None,
        email=principal.email if principal else None,
        vault_id=vault.id if vault else None,
        grant=Grant.of(identity),
    )

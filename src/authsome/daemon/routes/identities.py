"""Agent identities: registration, status, headless claim, whoami."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from authsome.daemon.deps import CallerDep, PendingCallerDep, ProofDep, StateDep
from authsome.daemon.schemas import GrantPublic, HeadlessClaim, IdentityPublic, WhoamiPublic
from authsome.daemon.services.identities import (
    accept_claim,
    claim_state,
    latest_claim,
    register_identity,
    revoke_identity,
)
from authsome.daemon.services.principals import sign_in_or_create_first
from authsome.daemon.state import DaemonState
from authsome.errors import AuthenticationFailed, ConnectionNotFound
from authsome.store.db import transaction
from authsome.store.models import Identity, Principal

router = APIRouter(tags=["identities"])


def _public_base(request: Request, state: DaemonState) -> str:
    if state.settings.public_url:
        return state.settings.public_url.rstrip("/")
    return f"{request.url.scheme}://{request.headers['host']}"


def _identity_public(db: Session, identity: Identity) -> IdentityPublic:
    claim = latest_claim(db, identity.id)
    return IdentityPublic(
        handle=identity.handle,
        did=identity.did,
        jkt=identity.jkt,
        status=identity.status,
        principal_id=identity.principal_id,
        claim_state=claim_state(claim, datetime.now(UTC)),
        claim_expires_at=claim.expires_at if claim else None,
    )


@router.post("/identities", status_code=201)
def register(request: Request, proof: ProofDep, state: StateDep) -> IdentityPublic:
    """Register the key that signed this request's proof as a pending identity."""
    client = request.client.host if request.client else None
    with transaction(state.sessions) as db:
        registration = register_identity(db, proof.jwk, registered_from=client)
        db.flush()
        public = _identity_public(db, registration.identity)
    if registration.claim_token:
        public.claim_url = f"{_public_base(request, state)}/claim/{registration.claim_token}"
    return public


@router.get("/identities/self")
def own_status(caller: PendingCallerDep, state: StateDep) -> IdentityPublic:
    """The caller's own record; pending identities may read it."""
    with transaction(state.sessions) as db:
        identity = db.get(Identity, caller.identity_id)
        assert identity is not None
        return _identity_public(db, identity)


@router.post("/identities/self/claim")
def headless_claim(
    request: Request, body: HeadlessClaim, caller: PendingCallerDep, state: StateDep
) -> WhoamiPublic:
    """Claim the calling identity with a principal's email and password.

    Creates the first principal (admin) when there is none. A failed or
    rate-limited sign-in commits its audit event and failure count, then raises.
    """
    client = request.client.host if request.client else None
    with transaction(state.sessions) as db:
        outcome = sign_in_or_create_first(
            db, body.email, body.password.get_secret_value(), client=client
        )
        principal = outcome.principal
        if principal is not None:
            identity = db.get(Identity, caller.identity_id)
            assert identity is not None
            if identity.status == "revoked":
                raise AuthenticationFailed("this identity was revoked")
            if identity.principal_id not in (None, principal.id):
                raise AuthenticationFailed("this identity belongs to another principal")
            vault = state.vault_keys.ensure_vault(db, principal)
            if identity.status != "active":
                accept_claim(db, identity, principal)
            return _whoami(identity, principal, vault.id, state)
    raise outcome.error()


def _whoami(
    identity: Identity, principal: Principal | None, vault_id: str | None, state: DaemonState
) -> WhoamiPublic:
    return WhoamiPublic(
        handle=identity.handle,
        status=identity.status,
        principal_id=principal.id if principal else None,
        email=principal.email if principal else None,
        role=principal.role if principal else None,
        vault_id=vault_id,
        deployment_id=state.deployment_id,
    )


@router.get("/whoami")
def whoami(caller: CallerDep, state: StateDep) -> WhoamiPublic:
    """Who the proof's key is, and what it acts for."""
    return WhoamiPublic(
        handle=caller.handle,
        status=caller.status,
        principal_id=caller.principal_id,
        email=caller.email,
        role=caller.role,
        vault_id=caller.vault_id,
        deployment_id=state.deployment_id,
        key_source=state.master_key.source,
        grant=GrantPublic(
            all_providers=caller.grant.providers is None,
            providers=sorted(caller.grant.providers or ()),
            reveal=caller.grant.reveal,
        ),
    )


@router.post("/identities/{handle}/revoke")
def revoke(handle: str, caller: CallerDep, state: StateDep) -> IdentityPublic:
    """Revoke an identity: the identity itself, or an admin, may do it."""
    with transaction(state.sessions) as db:
        identity = db.scalar(select(Identity).where(Identity.handle == handle))
        if identity is None or not (identity.id == caller.identity_id or caller.role == "admin"):
            # Same answer for "absent" and "not yours": handles are not enumerable.
            raise ConnectionNotFound(f"no identity {handle!r} that you may revoke")
        revoke_identity(db, identity, by=caller.handle, principal_id=caller.principal_id)
        public = _identity_public(db, identity)
    state.runs.end_all_for_identity(identity.id)
    return public

"""``PUT /identities/{handle}/grant``: a principal changes an agent's grant from the CLI.

The request is signed by one of the principal's identities and carries the
principal's password, so an agent cannot widen its own grant on its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from authsome.audit.writer import record_event
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import GrantUpdate, IdentityGrantPublic
from authsome.daemon.services.grants import Grant, set_grant
from authsome.daemon.services.principals import sign_in
from authsome.errors import AuthenticationFailed, AuthsomeError, OperationNotAllowed
from authsome.store.db import transaction
from authsome.store.models import Identity

router = APIRouter(tags=["grants"])


@router.put("/identities/{handle}/grant")
def change_grant(
    handle: str, body: GrantUpdate, request: Request, caller: CallerDep, state: StateDep
) -> IdentityGrantPublic:
    """Set which providers an identity of yours may use, and whether it may reveal."""
    providers = frozenset(state.catalogue.get(name).name for name in body.providers)
    grant = Grant(providers=None if body.all_providers else providers, reveal=body.reveal)
    refusal: AuthsomeError | None = None
    with transaction(state.sessions) as db:
        client = request.client.host if request.client else None
        signed_in = sign_in(
            db, caller.email or "", body.password.get_secret_value(), client=client, via="grant"
        )
        target = db.scalar(select(Identity).where(Identity.handle == handle))
        if signed_in.principal is None or signed_in.principal.id != caller.principal_id:
            refusal = (
                signed_in.error()
                if signed_in.principal is None
                else AuthenticationFailed("email or password is incorrect")
            )
        elif target is None or target.principal_id != caller.principal_id:
            refusal = OperationNotAllowed(f"no identity {handle!r} of yours to change")
        if refusal is not None:
            record_event(
                db,
                "grant_changed",
                "denied",
                identity=caller.handle,
                principal_id=caller.principal_id,
                detail={"target": handle},
            )
        else:
            assert target is not None
            set_grant(db, target, grant, by=caller.principal_id or "")
            identity_id = target.id
    if refusal is not None:
        raise refusal
    state.runs.regrant(identity_id, grant)
    return IdentityGrantPublic(
        handle=handle,
        all_providers=grant.providers is None,
        providers=sorted(grant.providers or ()),
        reveal=grant.reveal,
    )

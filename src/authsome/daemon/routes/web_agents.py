"""Agents page: the identities of this principal (admin: all), their grants, revocation."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from authsome.daemon.deps import StateDep
from authsome.daemon.services.dashboard import AgentRow, find_agent, page_agents
from authsome.daemon.services.grants import Grant, set_grant
from authsome.daemon.services.identities import revoke_identity
from authsome.daemon.services.web_sessions import SignedIn
from authsome.daemon.web.grant_form import grant_from_form
from authsome.daemon.web.paging import PagingDep
from authsome.daemon.web.render import render
from authsome.daemon.web.security import FormDep, SignedInDep, WebError, WebRoute, not_found
from authsome.store.db import transaction

router = APIRouter(prefix="/ui/agents", route_class=WebRoute, include_in_schema=False)


def _visible(db: Session, signed_in: SignedIn, handle: str) -> AgentRow:
    row = find_agent(db, signed_in, handle[:96])
    if row is None:
        raise not_found()
    return row


@router.get("")
def agents(
    request: Request, signed_in: SignedInDep, paging: PagingDep, state: StateDep
) -> Response:
    with transaction(state.sessions) as db:
        rows, total = page_agents(db, signed_in, offset=paging.offset, limit=paging.per_page)
        return render(request, "agents.html", rows=rows, pager=paging.pager(total))


@router.get("/{handle}")
def agent(handle: str, request: Request, signed_in: SignedInDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        row = _visible(db, signed_in, handle)
        identity = row.identity
        return render(
            request,
            "agent.html",
            row=row,
            identity=identity,
            grant=Grant.of(identity),
            providers=state.catalogue.all(),
            is_owner=identity.principal_id == signed_in.principal_id,
        )


@router.post("/{handle}/grant")
def change_grant(handle: str, signed_in: SignedInDep, form: FormDep, state: StateDep) -> Response:
    grant = grant_from_form(form, state.catalogue)
    with transaction(state.sessions) as db:
        identity = _visible(db, signed_in, handle).identity
        if identity.principal_id != signed_in.principal_id:
            raise WebError(403, "Only the agent's own principal sets its grant.")
        if identity.status == "revoked":
            raise WebError(409, "This agent is revoked; its grant no longer matters.")
        set_grant(db, identity, grant, by=signed_in.principal_id)
        identity_id, target = identity.id, identity.handle
    state.runs.regrant(identity_id, grant)
    return RedirectResponse(f"/ui/agents/{target}?done=grant", status_code=303)


@router.post("/{handle}/revoke")
def revoke(handle: str, signed_in: SignedInDep, form: FormDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        identity = _visible(db, signed_in, handle).identity
        if identity.status != "revoked":
            owner = identity.principal_id or signed_in.principal_id
            revoke_identity(db, identity, by=signed_in.email, principal_id=owner)
        identity_id, target = identity.id, identity.handle
    state.runs.end_all_for_identity(identity_id)
    return RedirectResponse(f"/ui/agents/{target}?done=revoked", status_code=303)

"""The claim page: the signed-in principal accepts (with a grant) or rejects an agent."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from authsome.daemon.deps import StateDep
from authsome.daemon.services.claims import (
    NOT_VALID,
    accept_browser_claim,
    find_pending_claim,
    reject_browser_claim,
)
from authsome.daemon.services.connections import list_connections
from authsome.daemon.services.dashboard import vault_of
from authsome.daemon.web.grant_form import grant_from_form
from authsome.daemon.web.render import render
from authsome.daemon.web.security import FormDep, SignedInDep, WebRoute
from authsome.store.db import transaction
from authsome.store.models import Principal

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/claim/{token}")
def claim_page(token: str, request: Request, signed_in: SignedInDep, state: StateDep) -> Response:
    with transaction(state.sessions) as db:
        found = find_pending_claim(db, token[:128], datetime.now(UTC))
        if found is None:
            return render(request, "error.html", status=404, status_code=404, message=NOT_VALID)
        vault = vault_of(db, signed_in.principal_id)
        connected = {c.provider for c in list_connections(db, vault.id)} if vault else set()
        return render(
            request,
            "claim.html",
            token=token,
            identity=found.identity,
            claim=found.claim,
            providers=state.catalogue.all(),
            connected=connected,
        )


@router.post("/claim/{token}")
def decide_claim(
    token: str, request: Request, signed_in: SignedInDep, form: FormDep, state: StateDep
) -> Response:
    now = datetime.now(UTC)
    decision = form.get("decision")
    with transaction(state.sessions) as db:
        principal = db.get(Principal, signed_in.principal_id)
        assert principal is not None
        if decision == "accept":
            grant = grant_from_form(form, state.catalogue)
            identity = accept_browser_claim(
                db, state.vault_keys, token[:128], principal, grant, now
            )
            target = f"/ui/agents/{identity.handle}?done=accepted"
        elif decision == "reject":
            reject_browser_claim(db, token[:128], principal, now)
            target = "/?done=rejected"
        else:
            return render(
                request, "error.html", status=400, status_code=400, message="Accept or reject."
            )
    return RedirectResponse(target, status_code=303)

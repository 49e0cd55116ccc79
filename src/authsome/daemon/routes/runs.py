"""Run sessions for `authsome run`: the proxy password and the child's setup."""

from __future__ import annotations

from fastapi import APIRouter

from authsome.audit.writer import record_event
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import RunPublic, RunRequest
from authsome.daemon.services.connections import check_connection_name, list_connections
from authsome.providers.schema import API_KEY_USER
from authsome.store.db import transaction

router = APIRouter(tags=["runs"])

PLACEHOLDER = "authsome-managed"


@router.post("/runs", status_code=201)
def start_run(body: RunRequest, caller: CallerDep, state: StateDep) -> RunPublic:
    """Start a run: a proxy token bound to the caller, placeholders for SDKs."""
    catalogue = state.catalogue
    for provider_name, connection_name in body.connections.items():
        catalogue.get(provider_name)
        check_connection_name(connection_name)
    providers = None
    if body.providers:
        providers = frozenset(catalogue.get(name).name for name in body.providers)
    run, token = state.runs.start(
        caller,
        connections=body.connections,
        providers=providers,
        deny_unmatched=body.deny_unmatched,
    )
    env: dict[str, str] = {}
    with transaction(state.sessions) as db:
        assert run.session.vault_id is not None
        for connection in list_connections(db, run.session.vault_id):
            definition = catalogue.find(connection.provider)
            if definition is None or not run.allows(definition.name):
                continue
            if definition.api_key and definition.api_key.env_var:
                env[definition.api_key.env_var] = PLACEHOLDER
            for variable, source in (definition.export or {}).items():
                # The user half of a pair (Twilio's account SID) is an identifier SDKs
                # put in request paths: a placeholder would break them, so the
                # caller's own value stays.
                if source != API_KEY_USER:
                    env[variable] = PLACEHOLDER
        record_event(
            db,
            "run_started",
            "success",
            identity=caller.handle,
            principal_id=caller.principal_id,
            detail={"run": run.session.run_id},
        )
    return RunPublic(
        run_id=run.session.run_id,
        token=token,
        proxy_host=state.proxy_host,
        proxy_port=state.proxy_port,
        ca_pem=state.ca.cert_pem.decode(),
        env=env,
    )


@router.delete("/runs/{run_id}", status_code=204)
def end_run(run_id: str, caller: CallerDep, state: StateDep) -> None:
    """End a run; its token stops working at once."""
    state.runs.end(run_id, identity_id=caller.identity_id)
    with transaction(state.sessions) as db:
        record_event(
            db,
            "run_ended",
            "success",
            identity=caller.handle,
            principal_id=caller.principal_id,
            detail={"run": run_id},
        )

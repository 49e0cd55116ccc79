"""Routes for ``authsome run --local-proxy``: the proxy engine runs in the CLI.

With a shared (hosted) daemon, agent traffic should not travel to the daemon
host, so the CLI runs the proxy itself and asks the daemon, PoP-signed, only
for decisions and credentials:

    GET  /runs/{run_id}/providers   provider definitions and the instances of the run's
                                    vault (which hosts to intercept)
    POST /runs/{run_id}/resolve     what to inject into one request (audited here), and
                                    the match it was decided for (the CLI's cache key)
    POST /runs/{run_id}/events      the run's proxied-request events, in bounded batches,
                                    with the count it dropped (an ``audit_dropped`` event)

``resolve`` answers with exactly the decision the daemon's own proxy makes for
that run (grants, ``--provider``, ``--connection``, a connection's own
instance, refusal messages), because it calls the same backend. Each answer is
audited as ``credential_resolved`` before any header leaves the daemon; the CLI
then ships ``proxy_request`` events with the upstream's status.

Fail closed, as ``/resolve`` and the daemon's proxy: while audit events cannot
be written, both ``resolve`` and ``events`` answer 503 ``audit_unavailable``.
The CLI reuses an answer only while the daemon keeps accepting the run's
events, so a refused upload (or resolve) makes it drop every cached answer.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from authsome.audit.writer import DROPPED_EVENT, UNAVAILABLE_MESSAGE
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import Strict
from authsome.daemon.services.caller import Caller
from authsome.daemon.services.proxy_backend import AUDIT_REFUSAL
from authsome.daemon.services.runs import ActiveRun
from authsome.daemon.state import DaemonState
from authsome.errors import AuditUnavailable, ConnectionNotFound, DaemonUnavailable

router = APIRouter(tags=["runs"])

#: Most events one upload may carry; the CLI sends bigger backlogs in several.
MAX_EVENTS = 256
#: How long the CLI may reuse an answer before asking again (seconds).
ANSWER_MAX_AGE = 30.0


class RunResolveRequest(Strict):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(443, ge=1, le=65535)
    method: str = Field("GET", min_length=1, max_length=16)
    path: str = Field("/", max_length=8192)


class RunResolvePublic(BaseModel):
    """Carries credential headers: returned only by this audited route."""

    provider: str | None = None
    connection: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    deny_status: int | None = None
    deny_message: str = ""
    max_age: float = ANSWER_MAX_AGE
    #: ``Match.key`` of the decision: the CLI reuses the answer only for requests it
    #: matches to the same key (never an instance's credential on another host).
    match: list[str] | None = None


class LocalProxyEvent(Strict):
    method: str = Field(max_length=16)
    host: str = Field(max_length=253)
    path: str = Field(max_length=2048)
    status: int = Field(ge=0, le=999)
    provider: str | None = Field(None, max_length=64)
    connection: str | None = Field(None, max_length=64)
    outcome: Literal["success", "failure", "denied"]
    reason: str | None = Field(None, max_length=300)
    duration_ms: float = Field(ge=0, le=86_400_000)


class LocalProxyEvents(Strict):
    events: list[LocalProxyEvent] = Field(max_length=MAX_EVENTS)
    #: Events the CLI dropped on a full queue since its last upload (written as a count).
    dropped: int = Field(0, ge=0, le=1_000_000_000)


def _own_run(state: DaemonState, caller: Caller, run_id: str) -> ActiveRun:
    run = state.runs.get(run_id)
    if run is None or run.identity_id != caller.identity_id:
        raise ConnectionNotFound("no such run for this identity")
    return run


@router.get("/runs/{run_id}/providers")
def run_providers(run_id: str, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Every provider definition in effect and the instances of the run's vault
    (public data: providers, connection names, base URLs): the CLI builds from them
    the matcher the daemon's proxy uses for this run."""
    run = _own_run(state, caller, run_id)
    definitions = [
        definition.model_dump(mode="json", by_alias=True, exclude_none=True)
        for definition in state.catalogue.all()
    ]
    vault_id = run.session.vault_id
    instances = state.resolver.instances.instances(vault_id) if vault_id is not None else ()
    granted = run.grant.providers
    return {
        "providers": definitions,
        "instances": [instance._asdict() for instance in instances],
        "granted": sorted(granted) if granted is not None else None,
    }


@router.post("/runs/{run_id}/resolve")
async def run_resolve(
    run_id: str, body: RunResolveRequest, request: Request, caller: CallerDep, state: StateDep
) -> RunResolvePublic:
    """The daemon proxy's decision for one request of this run."""
    # A run another replica started is read from the store: not on the event loop.
    run = await run_in_threadpool(_own_run, state, caller, run_id)
    backend = getattr(request.app.state, "proxy_backend", None)
    if backend is None:
        raise DaemonUnavailable("this daemon has no proxy engine running")
    path = body.path.split("?", 1)[0] or "/"
    host = body.host.lower().rstrip(".")
    decision = await backend.decision_for(run.session, host=host, path=path)
    if decision is None:
        return RunResolvePublic()
    matched, injection = decision
    audit_down = injection.deny_message == AUDIT_REFUSAL
    if injection.deny_status is None:
        outcome, reason = "success", None
    elif audit_down:
        outcome, reason = "denied", "audit unavailable"
    else:
        outcome = "denied" if injection.deny_status in (403, 407) else "failure"
        reason = injection.deny_message.strip().removeprefix("authsome: ")[:300]
    detail: dict[str, object] = {"run": run_id, "local_proxy": True}
    if reason:
        detail["reason"] = reason
    state.audit.add(
        "credential_resolved",
        outcome,
        identity=run.session.identity,
        principal_id=run.session.principal_id,
        provider=injection.provider,
        connection=injection.connection,
        host=host,
        path=path,
        detail=detail,
    )
    if audit_down:
        raise AuditUnavailable(UNAVAILABLE_MESSAGE)
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in injection.headers}
    return RunResolvePublic(
        provider=injection.provider,
        connection=injection.connection,
        headers=headers,
        deny_status=injection.deny_status,
        deny_message=injection.deny_message,
        match=list(matched.key),
    )


@router.post("/runs/{run_id}/events", status_code=204)
def run_events(run_id: str, body: LocalProxyEvents, caller: CallerDep, state: StateDep) -> None:
    """Proxied-request events of a local proxy, audited under the run's identity.

    Refused (503) while events cannot be written: the CLI keeps them, sends them
    again later, and stops using the credentials it was given meanwhile.
    """
    run = _own_run(state, caller, run_id)
    if not state.audit.confirm_blocking():
        raise AuditUnavailable(UNAVAILABLE_MESSAGE)
    catalogue = state.catalogue
    for event in body.events:
        provider = event.provider if event.provider and catalogue.find(event.provider) else None
        detail: dict[str, object] = {
            "duration_ms": round(event.duration_ms, 2),
            "run": run_id,
            "local_proxy": True,
        }
        if event.reason:
            detail["reason"] = event.reason
        state.audit.add(
            "proxy_request",
            event.outcome,
            identity=run.session.identity,
            principal_id=run.session.principal_id,
            provider=provider,
            connection=event.connection if provider else None,
            method=event.method,
            host=event.host,
            path=event.path.split("?", 1)[0],
            status=event.status,
            detail=detail,
        )
    if body.dropped:
        state.audit.add(
            DROPPED_EVENT,
            "failure",
            identity=run.session.identity,
            principal_id=run.session.principal_id,
            detail={"count": body.dropped, "run": run_id, "local_proxy": True},
        )

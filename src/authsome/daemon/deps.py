"""FastAPI dependencies: the daemon state and the PoP-verified caller.

Handlers open their own transaction (``store.db.transaction``) so a failed
commit is raised inside the handler and rendered like any other error.
"""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from authsome.crypto.pop import VerifiedProof
from authsome.daemon.guards import names_public_origin
from authsome.daemon.services.caller import Caller, load_caller, verify_request_proof
from authsome.daemon.state import DaemonState
from authsome.errors import OperationNotAllowed
from authsome.store.db import transaction


def get_state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


StateDep = Annotated[DaemonState, Depends(get_state)]


def request_url(request: Request, state: DaemonState) -> str:
    """The URL the client reached us at, as DESIGN §3 compares it with ``htu``.

    A request that names the public host came through the TLS-terminating
    reverse proxy: its client signed the public URL. One that names a loopback
    host (a CLI on the daemon's own machine) signed the URL it used.

    The path is the one on the request line, percent-encoding as sent (ASGI's
    ``raw_path``): that is what a client signs, while ``request.url`` decodes it.
    """
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    public = state.settings.public_url
    if public and names_public_origin(request.headers.get("host", ""), public):
        return public.rstrip("/") + path
    return str(request.url.replace(path=path, query=""))


async def get_proof(request: Request, state: StateDep) -> VerifiedProof:
    body = await request.body()
    check = functools.partial(
        verify_request_proof,
        state.replay,
        header=request.headers.get("dpop"),
        method=request.method,
        url=request_url(request, state),
        body=body,
    )
    if state.replay.blocking:  # the replay table (team mode): database I/O off the loop
        return await run_in_threadpool(check)
    return check()


ProofDep = Annotated[VerifiedProof, Depends(get_proof)]


def get_caller(proof: ProofDep, state: StateDep) -> Caller:
    with transaction(state.sessions) as db:
        return load_caller(db, proof.jkt)


def get_pending_caller(proof: ProofDep, state: StateDep) -> Caller:
    with transaction(state.sessions) as db:
        return load_caller(db, proof.jkt, allow_pending=True)


CallerDep = Annotated[Caller, Depends(get_caller)]
PendingCallerDep = Annotated[Caller, Depends(get_pending_caller)]


def get_admin(caller: CallerDep) -> Caller:
    if caller.role != "admin":
        raise OperationNotAllowed("only an admin principal may do this")
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]

"""Liveness and readiness (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from authsome import __version__
from authsome.crypto.envelope import verify_key_check
from authsome.daemon.deps import StateDep
from authsome.daemon.schemas import HealthPublic, ReadyPublic
from authsome.store.db import current_revision, script_heads
from authsome.store.models import Deployment

router = APIRouter(tags=["health"])


@router.get("/health")
def health(state: StateDep) -> HealthPublic:
    """Answers as long as the process runs; names the deployment."""
    return HealthPublic(
        status="ok", service="authsome", version=__version__, deployment_id=state.deployment_id
    )


@router.get("/ready", response_model=ReadyPublic)
def ready(state: StateDep) -> JSONResponse:
    """Checks config, store, vault key and providers; 503 when any fails."""
    checks: dict[str, str] = {"config": "ok"}
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
            deployment = session.scalar(select(Deployment))
        checks["store"] = _schema_state(current_revision(state.engine), state.engine.dialect.name)
        try:
            if deployment is None:
                raise ValueError("no deployment record")
            verify_key_check(state.master_key.key, deployment.key_check)
            checks["vault_key"] = f"ok ({state.master_key.source})"
        except Exception:
            checks["vault_key"] = "failed: the master key does not open this store"
    except Exception as exc:
        checks["store"] = f"failed: {type(exc).__name__}"
        checks["vault_key"] = "unknown"
    checks["audit"] = (
        "ok"
        if state.audit.healthy
        else f"failed: events cannot be written ({state.audit.pending} queued)"
    )
    count = len(state.catalogue.all())
    checks["providers"] = f"ok ({count} loaded)" if count else "failed: no providers"
    not_after = state.ca.not_after
    checks["proxy_ca"] = f"ok (valid until {not_after:%Y-%m-%d})"
    is_ready = all(value.startswith("ok") for value in checks.values())
    body = ReadyPublic(
        ready=is_ready, checks=checks, proxy_ca_not_after=not_after.isoformat()
    ).model_dump()
    return JSONResponse(body, status_code=200 if is_ready else 503)


def _schema_state(revision: str | None, dialect: str) -> str:
    """The store check: reachable, and migrated to exactly what this daemon's code expects.

    A replica of another version that migrated the shared database further shows here.
    """
    expected = script_heads()
    current = set(revision.split(",")) if revision else set()
    if expected is not None and current != expected:
        return (
            f"failed: {dialect} schema at {revision or 'nothing'}, "
            f"this daemon expects {','.join(sorted(expected))}"
        )
    return f"ok ({dialect}, revision {revision}, up to date)"

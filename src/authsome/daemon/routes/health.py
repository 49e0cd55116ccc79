"""Liveness and readiness (no authentication)."""

from __future__ import annotations

import os
import stat

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from authsome import __version__
from authsome.config_file import FILE_NAME, read_config_file
from authsome.crypto.envelope import verify_key_check
from authsome.daemon.deps import StateDep
from authsome.daemon.schemas import HealthPublic, ReadyPublic
from authsome.errors import InvalidInput
from authsome.home import HomeLayout
from authsome.providers.schema import load_provider_json
from authsome.store.db import current_revision, script_heads
from authsome.store.models import CustomProvider, Deployment

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
    checks: dict[str, str] = {"config": _config_state(state.settings.layout)}
    providers = "unknown (the store cannot be read)"
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
            providers = _providers_state(session, len(state.catalogue.all()))
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
    checks["providers"] = providers
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


def _config_state(layout: HomeLayout) -> str:
    """The server folder is still this user's and private, and its ``config.json``
    (read again at the next start) still loads: one ``stat`` and one small read.

    Says what is wrong without the path: ``/ready`` answers without authentication.
    """
    try:
        info = layout.server_dir.stat()
    except OSError as exc:
        return f"failed: the server folder cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return "failed: the server folder is not a folder"
    if info.st_uid != os.geteuid():
        return "failed: the server folder belongs to another user"
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return f"failed: the server folder is open to other users (mode {mode:o}; chmod 700 it)"
    try:
        read_config_file(layout.server_dir / FILE_NAME)
    except InvalidInput:
        return f"failed: server/{FILE_NAME} does not load (authsome daemon serve says why)"
    return "ok (server folder private, settings load)"


def _providers_state(session: Session, loaded: int) -> str:
    """Every stored custom definition still parses (the bundled ones are part of
    the installed package and were parsed at start).

    Counts without naming them: listing providers needs an identity, this does
    not; ``authsome doctor`` names them.
    """
    broken = 0
    for definition in session.scalars(select(CustomProvider.definition)):
        try:
            load_provider_json(definition, source="stored definition")
        except InvalidInput:
            broken += 1
    if broken:
        return (
            f"failed: {broken} stored custom provider definition(s) no longer parse "
            "(authsome doctor names them)"
        )
    return f"ok ({loaded} loaded)" if loaded else "failed: no providers"

"""Vault lifecycle for admins: rotate the master key, move it, back the store up.

Restoring a backup replaces the database, so it runs with the daemon stopped
(``daemon/restore.py``, behind ``authsome vault restore``), not here.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import select

from authsome.audit.writer import record_event
from authsome.daemon.deps import AdminDep, StateDep
from authsome.daemon.services.backup import make_backup, snapshot_database, sqlite_path
from authsome.daemon.services.key_backend import move_master_key
from authsome.daemon.services.key_rotation import rotate_master_key
from authsome.daemon.state import DaemonState
from authsome.errors import VaultKeyError
from authsome.store.db import transaction
from authsome.store.models import Deployment

router = APIRouter(tags=["vault"])


class RotationPublic(BaseModel):
    rotated: bool
    vaults: int
    key_location: str
    old_key_location: str
    # An earlier old key (from the rotation before) is kept here, never overwritten.
    earlier_old_key_location: str | None = None


class BackendRequest(BaseModel):
    backend: Literal["keyring", "file", "env"]


class BackendPublic(BaseModel):
    backend: str
    changed: bool
    key_location: str
    message: str


class BackupRequest(BaseModel):
    include_key: bool = False
    passphrase: SecretStr | None = Field(None, max_length=1024)


@router.post("/vault/rotate-key")
def rotate_key(admin: AdminDep, state: StateDep) -> RotationPublic:
    """Replace the master key; every vault's data key is re-wrapped in one transaction."""
    rotated, result = rotate_master_key(
        state.sessions,
        state.master_key,
        state.vault_keys,
        identity=admin.handle,
        principal_id=admin.principal_id,
    )
    state.master_key = rotated
    return RotationPublic(
        rotated=True,
        vaults=result.vaults,
        key_location=result.store,
        old_key_location=result.old_key,
        earlier_old_key_location=result.earlier_old_key,
    )


@router.post("/vault/backend")
def set_backend(body: BackendRequest, admin: AdminDep, state: StateDep) -> BackendPublic:
    """Move the master key to the OS keyring or the key file (``env``: explain how)."""
    result = move_master_key(
        state.settings.layout,
        state.master_key,
        _key_check(state),
        body.backend,
        deployment_id=state.deployment_id,
    )
    state.master_key = result.master_key
    with transaction(state.sessions) as db:
        record_event(
            db,
            "vault_key_moved",
            "success",
            identity=admin.handle,
            principal_id=admin.principal_id,
            detail={"backend": body.backend, "changed": result.changed},
        )
    return BackendPublic(
        backend=result.backend,
        changed=result.changed,
        key_location=result.location,
        message=result.message,
    )


@router.post(
    "/vault/backup",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def backup(body: BackupRequest, admin: AdminDep, state: StateDep) -> Response:
    """A backup file of the store; the master key only with ``include_key``, sealed."""
    path = sqlite_path(state.settings.sqlalchemy_url)
    data = make_backup(
        snapshot_database(path),
        deployment_id=state.deployment_id,
        master_key=state.master_key.key if body.include_key else None,
        passphrase=body.passphrase.get_secret_value() if body.passphrase else None,
    )
    with transaction(state.sessions) as db:
        record_event(
            db,
            "vault_backup",
            "success",
            identity=admin.handle,
            principal_id=admin.principal_id,
            detail={"include_key": body.include_key},
        )
    return Response(data, media_type="application/octet-stream")


def _key_check(state: DaemonState) -> bytes:
    with transaction(state.sessions) as db:
        deployment = db.scalar(select(Deployment))
        if deployment is None:
            raise VaultKeyError("this store has no deployment record")
        key_check: bytes = deployment.key_check
        return key_check

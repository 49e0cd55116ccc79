"""Master-key rotation (DESIGN §4): re-wrap every data key, crash-safe.

The order of steps is what makes a crash at any point harmless (the daemon
finishes or undoes the rotation at its next start, ``open_with_recovery``):

1. write the new key to the store's ``new`` slot (``master.key.new``);
2. in one transaction: re-wrap every vault's data key with the new key and
   store the new key's check value (the commit is the point of no return);
3. copy the current key to ``old`` (``master.key.old``, kept for the user;
   an earlier old key found there is first kept as ``master.key.old.<UTC time>``);
4. replace ``current`` with ``new`` (an atomic rename for files).

Before step 2 commits, the current key still opens everything and a stray
``new`` key is dropped at start; after it, the ``new`` key opens everything
and the start finishes steps 3 and 4. Data keys themselves never change, so
credentials in use keep working throughout: the daemon knows both master keys
while it rotates.

Tests kill the daemon between steps: with ``AUTHSOME_TEST_FAULT`` set to one
of ``FAULT_POINTS``, the process exits at once (``os._exit``) when it gets there.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authsome.audit.writer import record_event
from authsome.crypto.envelope import (
    make_key_check,
    unwrap_data_key,
    verify_key_check,
    wrap_data_key,
)
from authsome.crypto.masterkey import ENV_KEY, MasterKey, new_master_key
from authsome.daemon.services.vaults import VaultKeys
from authsome.errors import OperationNotAllowed, VaultKeyError
from authsome.store.models import Deployment, DeploymentKey, Vault

FAULT_ENV = "AUTHSOME_TEST_FAULT"
FAULT_EXIT_CODE = 86
FAULT_POINTS = (
    "rotate:start",
    "rotate:new-key-written",
    "rotate:half-rewrapped",
    "rotate:committed",
    "rotate:old-key-saved",
    "rotate:current-replaced",
)

_lock = threading.Lock()


def fault_point(name: str) -> None:
    """Die here, as kill -9 would, when the tests ask for it."""
    if os.environ.get(FAULT_ENV) == name:
        os._exit(FAULT_EXIT_CODE)


@dataclass(frozen=True)
class RotationResult:
    vaults: int
    store: str  # where the new key is
    old_key: str  # where the replaced key is kept
    earlier_old_key: str | None  # where the key that was in ``old`` went, if one was


def rotate_master_key(
    sessions: sessionmaker[Session],
    master_key: MasterKey,
    vault_keys: VaultKeys,
    *,
    identity: str,
    principal_id: str | None,
) -> tuple[MasterKey, RotationResult]:
    """Replace ``master_key`` by a new one; returns the new key and a summary."""
    store = master_key.store
    if store is None:
        raise OperationNotAllowed(
            f"The master key comes from {ENV_KEY}, which Authsome cannot rewrite.",
            hint="Make a new 32-byte key yourself and re-encrypt with it by moving the "
            "key to a file first: `authsome vault backend file`, restart the daemon "
            f"without {ENV_KEY}, then `authsome vault rotate-key`.",
        )
    with _lock:
        fault_point("rotate:start")
        _check_store_holds(master_key)
        new_key = new_master_key()
        store.write("new", new_key)
        fault_point("rotate:new-key-written")
        vault_keys.add_master_key(new_key)  # before the commit: see VaultKeys.wrapping_key
        with sessions() as session, session.begin():
            count = _rewrap_all(session, master_key.key, new_key)
            record_event(
                session,
                "vault_key_rotated",
                "success",
                identity=identity,
                principal_id=principal_id,
                detail={"vaults": count, "store": store.source},
            )
        fault_point("rotate:committed")
        earlier = store.save_old()
        fault_point("rotate:old-key-saved")
        store.replace_current()
        fault_point("rotate:current-replaced")
    rotated = MasterKey(new_key, master_key.source, store)
    return rotated, RotationResult(count, store.describe(), store.describe("old"), earlier)


def _check_store_holds(master_key: MasterKey) -> None:
    """Refuse to rotate when the store no longer holds the key in use.

    Rotation keeps the replaced key as ``old`` by copying the store's current
    slot; an emptied slot (a keyring entry deleted under the running daemon)
    must not pass for "nothing to keep".
    """
    store = master_key.store
    assert store is not None
    held = store.read("current")
    if held is None or held != master_key.key:
        state = "no longer holds" if held is None else "holds another key than"
        raise VaultKeyError(
            f"The {store.describe()} {state} the master key in use; not rotating.",
            hint="Put the key back where it was, or move it with `authsome vault backend "
            "file` (the daemon still has it), then rotate.",
        )


def _rewrap_all(session: Session, old_key: bytes, new_key: bytes) -> int:
    # with_for_update: on PostgreSQL this row lock orders rotation against
    # new vaults (VaultKeys.wrapping_key); SQLite's BEGIN IMMEDIATE already does.
    deployment = session.scalar(select(Deployment).with_for_update())
    if deployment is None:
        raise VaultKeyError("this store has no deployment record to rotate")
    verify_key_check(old_key, deployment.key_check)
    vaults = list(session.scalars(select(Vault).order_by(Vault.id)))
    for index, vault in enumerate(vaults):
        vault.wrapped_data_key = _rewrap(old_key, new_key, vault.wrapped_data_key, vault.id)
        if index == len(vaults) // 2:
            session.flush()
            fault_point("rotate:half-rewrapped")
    for row in session.scalars(select(DeploymentKey)):
        # Deployment-wide data keys (OAuth client secrets) are bound to this scope.
        scope = f"deployment:{row.name}"
        row.wrapped_data_key = _rewrap(old_key, new_key, row.wrapped_data_key, scope)
    deployment.key_check = make_key_check(new_key)
    return len(vaults)


def _rewrap(old_key: bytes, new_key: bytes, wrapped: bytes, scope: str) -> bytes:
    data_key = unwrap_data_key(old_key, wrapped, vault_id=scope)
    return wrap_data_key(new_key, data_key, vault_id=scope)

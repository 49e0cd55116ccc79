"""The vault a PoP caller acts in (its principal's), for routes outside ``connections``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from authsome.daemon.services.caller import Caller
from authsome.daemon.services.connections import ActingFor
from authsome.errors import IdentityPending
from authsome.store.models import Vault


def caller_vault(session: Session, caller: Caller) -> Vault:
    vault = session.get(Vault, caller.vault_id) if caller.vault_id else None
    if vault is None:
        raise IdentityPending("this identity's principal has no vault yet")
    return vault


def acting_for(caller: Caller) -> ActingFor:
    assert caller.principal_id is not None
    return ActingFor(identity=caller.handle, principal_id=caller.principal_id)

"""``GET /doctor``: the checks ``authsome doctor`` cannot make from the client side."""

from __future__ import annotations

from fastapi import APIRouter

from authsome import __version__
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import DoctorCheckPublic, DoctorPublic
from authsome.daemon.services.doctor import (
    ca_validity,
    providers_parse,
    store_integrity,
    vault_round_trip,
)
from authsome.daemon.services.vault_access import caller_vault
from authsome.store.db import transaction

router = APIRouter(tags=["doctor"])


@router.get("/doctor")
def doctor(caller: CallerDep, state: StateDep) -> DoctorPublic:
    """Vault round trip, store integrity, provider definitions and proxy CA."""
    with transaction(state.sessions) as db:
        vault = caller_vault(db, caller)
        checks = [vault_round_trip(state.vault_keys, vault)]
    checks += [
        store_integrity(state.engine),
        providers_parse(state.sessions),
        ca_validity(state.ca),
    ]
    return DoctorPublic(
        version=__version__,
        checks=[DoctorCheckPublic(**vars(check)) for check in checks],
    )

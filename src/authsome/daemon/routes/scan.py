"""``authsome scan`` support: which variables hold keys, and drift against the vault."""

from __future__ import annotations

from fastapi import APIRouter

from authsome.audit.writer import record_event
from authsome.daemon.deps import CallerDep, StateDep
from authsome.daemon.schemas import ScanCompareRequest, ScanResultPublic, ScanRulePublic
from authsome.daemon.services.scan import compare_fingerprints, scan_rules
from authsome.daemon.services.vault_access import caller_vault
from authsome.store.db import transaction

router = APIRouter(tags=["scan"])


@router.get("/scan/rules")
def rules(_caller: CallerDep, state: StateDep) -> list[ScanRulePublic]:
    """Variable names and key patterns of every API-key provider."""
    return [
        ScanRulePublic(provider=r.provider, variables=list(r.variables), key_pattern=r.key_pattern)
        for r in scan_rules(state.catalogue)
    ]


@router.post("/scan/compare")
def compare(body: ScanCompareRequest, caller: CallerDep, state: StateDep) -> list[ScanResultPublic]:
    """Whether each fingerprint is new, the same as a stored key, or differs; audited."""
    for item in body.items:
        state.catalogue.get(item.provider)
    with transaction(state.sessions) as db:
        vault = caller_vault(db, caller)
        drift = compare_fingerprints(
            db, state.vault_keys, vault, [(i.provider, i.sha256) for i in body.items]
        )
        record_event(
            db,
            "scan_compared",
            "success",
            identity=caller.handle,
            principal_id=caller.principal_id,
            detail={"count": len(drift)},
        )
    return [ScanResultPublic(**vars(d)) for d in drift]

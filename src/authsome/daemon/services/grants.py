"""Grants: what an identity may use (DESIGN §2b), decided in one place.

Enforced on every resolve, every proxied request and every reveal/export;
a refusal is an ``OperationNotAllowed`` (or a proxy 403) and a ``denied``
audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from authsome.audit.writer import AuditBatcher, record_event
from authsome.errors import OperationNotAllowed
from authsome.store.models import Identity

if TYPE_CHECKING:
    from authsome.daemon.services.caller import Caller


@dataclass(frozen=True, slots=True)
class Grant:
    providers: frozenset[str] | None  # None: every provider
    reveal: bool = False

    @classmethod
    def of(cls, identity: Identity) -> Grant:
        listed = None if identity.grant_all_providers else frozenset(identity.grant_providers)
        return cls(providers=listed, reveal=bool(identity.grant_reveal))

    def allows_provider(self, provider: str) -> bool:
        return self.providers is None or provider in self.providers

    def describe(self) -> str:
        scope = "all providers" if self.providers is None else ", ".join(sorted(self.providers))
        return f"{scope or 'no providers'}; reveal {'allowed' if self.reveal else 'not allowed'}"


ALL = Grant(providers=None, reveal=False)


def set_grant(session: Session, identity: Identity, grant: Grant, *, by: str) -> None:
    """Store ``grant`` on ``identity`` (audited ``grant_changed``).

    Live runs keep the grant they started with until the caller applies the
    new one with ``state.runs.regrant(identity.id, grant)`` after commit.
    """
    identity.grant_all_providers = grant.providers is None
    identity.grant_providers = sorted(grant.providers or ())
    identity.grant_reveal = grant.reveal
    record_event(
        session,
        "grant_changed",
        "success",
        identity=identity.handle,
        principal_id=by,
        detail={"grant": grant.describe()},
    )


def require_reveal(audit: AuditBatcher, caller: Caller, provider: str, *, action: str) -> None:
    """Refuse (``denied`` event, ``OperationNotAllowed``) unless the grant lets ``caller``
    see ``provider``'s raw secret; for ``export``, ``inspect --reveal`` and
    ``get_credential``. The caller audits the success itself, with what it revealed.

    Example::

        require_reveal(state.audit, caller, "openai", action="export")
    """
    reason = None
    if not caller.grant.allows_provider(provider):
        reason = "not in grant"
    elif not caller.grant.reveal:
        reason = "reveal not granted"
    if reason is None:
        return
    audit.add(
        action,
        "denied",
        identity=caller.handle,
        principal_id=caller.principal_id,
        provider=provider,
        detail={"reason": reason},
    )
    raise OperationNotAllowed(
        f"this agent's grant does not allow revealing {provider} secrets ({reason})",
        hint="its principal can change the grant on the agent's page in the dashboard",
    )

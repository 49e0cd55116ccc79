"""What the dashboard pages show, scoped to the signed-in principal.

A ``user`` sees only their own agents, connections and events; an ``admin``
sees every agent and every event, but still only their own vault. Lookups of
one object return None both for "absent" and "not yours", so pages answer
404 either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from authsome.daemon.services.web_sessions import SignedIn
from authsome.store.models import AuditEvent, Connection, Identity, Principal, Vault


@dataclass(frozen=True)
class AgentRow:
    identity: Identity
    owner_email: str | None


@dataclass(frozen=True)
class Counts:
    connections: int
    agents: int
    active_agents: int


def vault_of(session: Session, principal_id: str) -> Vault | None:
    return session.scalar(select(Vault).where(Vault.principal_id == principal_id))


def _agent_scope(viewer: SignedIn) -> list[ColumnElement[bool]]:
    if viewer.is_admin:
        return []
    return [Identity.principal_id == viewer.principal_id]


def page_agents(
    session: Session, viewer: SignedIn, *, offset: int, limit: int
) -> tuple[list[AgentRow], int]:
    """Agents the viewer may see (admin: all, including unclaimed ones), newest first."""
    scope = _agent_scope(viewer)
    total = session.scalar(select(func.count()).select_from(Identity).where(*scope)) or 0
    rows = session.execute(
        select(Identity, Principal.email)
        .outerjoin(Principal, Principal.id == Identity.principal_id)
        .where(*scope)
        .order_by(Identity.registered_at.desc(), Identity.handle)
        .offset(offset)
        .limit(limit)
    )
    return [AgentRow(row[0], row[1]) for row in rows], total


def find_agent(session: Session, viewer: SignedIn, handle: str) -> AgentRow | None:
    row = session.execute(
        select(Identity, Principal.email)
        .outerjoin(Principal, Principal.id == Identity.principal_id)
        .where(Identity.handle == handle, *_agent_scope(viewer))
    ).first()
    return AgentRow(row[0], row[1]) if row else None


def page_connections(
    session: Session, vault_id: str | None, *, offset: int, limit: int
) -> tuple[list[Connection], int]:
    if vault_id is None:
        return [], 0
    where = Connection.vault_id == vault_id
    total = session.scalar(select(func.count()).select_from(Connection).where(where)) or 0
    rows = session.scalars(
        select(Connection)
        .where(where)
        .order_by(Connection.provider, Connection.name)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def page_events(
    session: Session, viewer: SignedIn, *, offset: int, limit: int
) -> tuple[list[AuditEvent], int]:
    """Audit events, newest first: the viewer's own, or all for an admin."""
    scope: list[ColumnElement[bool]] = []
    if not viewer.is_admin:
        scope.append(AuditEvent.principal_id == viewer.principal_id)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*scope)) or 0
    rows = session.scalars(
        select(AuditEvent).where(*scope).order_by(AuditEvent.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), total


def page_principals(
    session: Session, *, offset: int, limit: int
) -> tuple[list[tuple[Principal, int]], int]:
    """Every principal with how many agents it has (admin page)."""
    total = session.scalar(select(func.count()).select_from(Principal)) or 0
    agents = (
        select(func.count())
        .select_from(Identity)
        .where(Identity.principal_id == Principal.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Principal, agents)
        .order_by(Principal.created_at, Principal.email)
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], int(row[1])) for row in rows], total


def counts(session: Session, viewer: SignedIn, vault_id: str | None) -> Counts:
    scope = _agent_scope(viewer)
    agents = session.scalar(select(func.count()).select_from(Identity).where(*scope)) or 0
    active = (
        session.scalar(
            select(func.count()).select_from(Identity).where(*scope, Identity.status == "active")
        )
        or 0
    )
    connections = 0
    if vault_id is not None:
        connections = (
            session.scalar(
                select(func.count()).select_from(Connection).where(Connection.vault_id == vault_id)
            )
            or 0
        )
    return Counts(connections=connections, agents=agents, active_agents=active)

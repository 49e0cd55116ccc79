"""audit: indexes for filtered pages, hash chain over events written before it

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-03

Every filter of ``GET /audit/events`` pages newest first by id, so each
filterable column gets an index ending in ``id`` (SQLite appends the rowid
anyway; PostgreSQL needs it spelled out). One covering index on ``ts`` and
the filter columns serves the page's aggregates over a time range. Events written before the chain
existed have no hash yet: they are linked here, in id order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from authsome.audit.chain import GENESIS, link_hash
from authsome.store.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_audit_event_id": ["event", "id"],
    "ix_audit_provider_id": ["provider", "id"],
    "ix_audit_identity_id": ["identity", "id"],
    "ix_audit_outcome_id": ["outcome", "id"],
    "ix_audit_host_id": ["host", "id"],
    "ix_audit_principal_id": ["principal_id", "id"],
    # The /audit page's chart and top lists over a time range read only this.
    "ix_audit_ts_cover": ["ts", "outcome", "event", "provider", "identity", "host", "principal_id"],
}

_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("ts", UTCDateTime()),
    sa.column("event", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("identity", sa.String()),
    sa.column("principal_id", sa.String()),
    sa.column("provider", sa.String()),
    sa.column("connection", sa.String()),
    sa.column("method", sa.String()),
    sa.column("host", sa.String()),
    sa.column("path", sa.String()),
    sa.column("status", sa.Integer()),
    sa.column("detail", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    _link_unchained_events()


def _link_unchained_events() -> None:
    bind = op.get_bind()
    prev = GENESIS
    for row in bind.execute(sa.select(_events).order_by(_events.c.id)).mappings().all():
        if row["hash"] is None:
            digest = link_hash(prev, row)
            bind.execute(
                _events.update()
                .where(_events.c.id == row["id"])
                .values(prev_hash=prev, hash=digest)
            )
            prev = digest
        else:
            prev = row["hash"]


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)

"""run sessions in the store, so any replica can serve a run's calls

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

`authsome run --local-proxy` against a shared daemon asks ``/runs/{id}/…``
for decisions and credentials; behind a load balancer each call may reach
another replica, which finds the run here. The run token is never stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("identity_id", sa.String(length=64), nullable=False),
        sa.Column("identity_handle", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("vault_id", sa.String(length=64), nullable=False),
        sa.Column("connections", sa.JSON(), nullable=False),
        sa.Column("providers", sa.JSON(), nullable=True),
        sa.Column("deny_unmatched", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_sessions_identity", "run_sessions", ["identity_id"])


def downgrade() -> None:
    op.drop_index("ix_run_sessions_identity", table_name="run_sessions")
    op.drop_table("run_sessions")

"""shared state: the PoP replay table and the change feed between replicas

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Team mode runs several daemons on one database. A proof's ``jti`` is
remembered in ``pop_replay`` so a proof used on one replica is refused on
another; ``shared_changes`` tells every replica what another one changed
(logout, provider edits, grants) so in-memory caches follow.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pop_replay",
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti_hash"),
    )
    op.create_index("ix_pop_replay_expires", "pop_replay", ["expires_at"])
    op.create_table(
        "shared_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("vault_id", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("identity_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_shared_changes_created", "shared_changes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_shared_changes_created", table_name="shared_changes")
    op.drop_table("shared_changes")
    op.drop_index("ix_pop_replay_expires", table_name="pop_replay")
    op.drop_table("pop_replay")

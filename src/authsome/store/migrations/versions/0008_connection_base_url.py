"""connections.base_url: the instance an API-key connection belongs to

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

A multi-tenant provider (a Shopify shop, an Atlassian site) lists its API as
``{base_url}/…``; ``authsome login PROVIDER --base-url URL`` records the URL
here so the proxy matches that instance's hosts for this connection only.
OAuth connections keep theirs in ``oauth_grants.endpoints`` as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("base_url")

"""documents.chunk_count was never read: drop it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the dead column."""
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("chunk_count")


def downgrade() -> None:
    """Bring the column back (as 0 for every document)."""
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("chunk_count", sa.Integer(), nullable=False, server_default="0"))

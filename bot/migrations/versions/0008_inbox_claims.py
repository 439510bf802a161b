"""The inbox is shared by several processes: each update's sender, who holds it, until when, and
how often it was claimed.

Updates stored before this revision have no sender (they are not held back behind a sender's
earlier ones) and are unclaimed: the first process to start claims the ones not done.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the sender and claim columns."""
    op.add_column("inbox", sa.Column("sender", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("claimed_by", sa.String(80), nullable=True))
    op.add_column("inbox", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inbox", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(op.f("ix_inbox_sender"), "inbox", ["sender"], unique=False)


def downgrade() -> None:
    """Drop them (the inbox is then one process's again)."""
    op.drop_index(op.f("ix_inbox_sender"), table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("attempts")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("sender")

"""Escalations remember whether the question came from a group, and hold a staff answer while it
is delivered (the item stays open until it arrives; why a delivery failed is kept for a retry).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns; a question logged outside its asker's private chat was a group's."""
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(
            sa.Column("in_group", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("delivering_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.String(length=200), nullable=True))
    # a private chat's id is its person's id: any other chat an escalation names is a group
    escalations = sa.table(
        "escalations",
        sa.column("in_group", sa.Boolean()),
        sa.column("chat_id", sa.BigInteger()),
        sa.column("user_id", sa.BigInteger()),
    )
    op.execute(
        escalations.update()
        .where(escalations.c.chat_id != escalations.c.user_id)
        .values(in_group=True)
    )


def downgrade() -> None:
    """Drop the columns (a group's question then looks like any other)."""
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("delivery_error")
        batch.drop_column("delivering_at")
        batch.drop_column("in_group")

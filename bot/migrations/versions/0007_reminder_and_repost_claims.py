"""Reminders and escalation re-posts are claimed before they are sent: who holds one, until when.

Every process runs the reminder and re-post jobs; a conditional UPDATE gives each reminder and
each re-post to one of them, and a claim that runs out (its process died) frees it again. Rows
stored before are unclaimed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the claim columns (nullable: nothing stored is claimed)."""
    op.add_column("meeting_reminders", sa.Column("claimed_by", sa.String(80), nullable=True))
    op.add_column(
        "meeting_reminders", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("escalations", sa.Column("repost_claimed_by", sa.String(80), nullable=True))
    op.add_column(
        "escalations",
        sa.Column("repost_claimed_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    """Drop the claim columns."""
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("repost_claimed_until")
        batch.drop_column("repost_claimed_by")
    with op.batch_alter_table("meeting_reminders") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")

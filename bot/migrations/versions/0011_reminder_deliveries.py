"""Reminders are recorded per invitee: a reminder taken over after its sender died goes only to
the invitees who did not get it.

Reminders stored before have no deliveries: a sent one stays sent, and a pending one (also one
a process held when it was stopped for the upgrade) goes to all its invitees, as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table of deliveries, one row per reminder and invitee reached."""
    op.create_table(
        "meeting_reminder_deliveries",
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reminder_id"], ["meeting_reminders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reminder_id", "user_id"),
    )


def downgrade() -> None:
    """Drop it (a reminder is then recorded as a whole again)."""
    op.drop_table("meeting_reminder_deliveries")

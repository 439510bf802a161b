"""Booked meetings never overlap, by the database's own rule: two bookings at once give one.

PostgreSQL: an exclusion constraint on the booked meetings' time ranges. SQLite, which has none:
triggers that refuse an insert or a move onto a booked range (SQLite runs one writer at a time,
so the trigger's look and the write are one step). A meeting that ends when another starts does
not overlap it, as in the slot rules.

A database already holding overlapping booked meetings (booked at the same moment before this
revision) keeps them: on PostgreSQL the constraint then guards the meetings booked after them
(an old meeting is still checked by the service before any booking), on SQLite the triggers only
ever look at the row written.

A later revision that rebuilds `meetings` with batch_alter_table on SQLite drops these triggers
and must create them again (`create_sqlite_triggers`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "meetings_no_overlap"  # the constraint's (and the triggers' message): the service reads it
_OVERLAP = (
    "SELECT 1 FROM meetings m WHERE m.status = 'booked' AND m.start < NEW.\"end\" "
    'AND m."end" > NEW.start'
)


def create_sqlite_triggers() -> None:
    """Create SQLite's two triggers: one for a new booking, one for a moved or re-booked one."""
    op.execute(
        f"CREATE TRIGGER {NAME}_insert BEFORE INSERT ON meetings "
        f"WHEN NEW.status = 'booked' AND EXISTS ({_OVERLAP}) "
        f"BEGIN SELECT RAISE(ABORT, '{NAME}'); END"
    )
    op.execute(
        f'CREATE TRIGGER {NAME}_update BEFORE UPDATE OF start, "end", status ON meetings '
        f"WHEN NEW.status = 'booked' AND EXISTS ({_OVERLAP} AND m.id != NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{NAME}'); END"
    )


def upgrade() -> None:
    """Add the constraint (PostgreSQL) or the triggers (SQLite)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        create_sqlite_triggers()
        return
    # the newest meeting of any overlapping pair already stored: the guard starts after it
    last = bind.execute(
        sa.text(
            "SELECT max(b.id) FROM meetings a JOIN meetings b ON a.id < b.id "
            "WHERE a.status = 'booked' AND b.status = 'booked' "
            'AND a.start < b."end" AND b.start < a."end"'
        )
    ).scalar()
    where = "status = 'booked'" + (f" AND id > {int(last)}" if last is not None else "")
    op.execute(
        f'ALTER TABLE meetings ADD CONSTRAINT {NAME} EXCLUDE USING gist (tstzrange(start, "end") '
        f"WITH &&) WHERE ({where})"
    )


def downgrade() -> None:
    """Drop the constraint or the triggers (the service's own check is then the only one)."""
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {NAME}_insert")
        op.execute(f"DROP TRIGGER IF EXISTS {NAME}_update")
        return
    op.execute(f"ALTER TABLE meetings DROP CONSTRAINT IF EXISTS {NAME}")

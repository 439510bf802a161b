"""The inbox is per bot: each update is stored under its bot's id (the public part of the token
before ':'), and its key is (bot, update id), since each bot counts its update ids itself.

Updates stored before this revision belong to no bot (bot id 0): the first process to start
after the upgrade takes them over for its bot (`Inbox.adopt`), which on a database one bot used
(every database before this revision) is that bot. The column defaults to 0 so that a process
of the older release still running during the upgrade can store an update; it is taken over
by the next process of this release to start.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the bot column (0 for the rows stored so far) and key the inbox by (bot, update)."""
    column = sa.Column("bot_id", sa.BigInteger(), nullable=False, server_default="0")
    if op.get_bind().dialect.name == "sqlite":
        # SQLAlchemy says the copied table's key is no longer update_id's: that is the point
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_inbox'", sa.exc.SAWarning)
            with op.batch_alter_table("inbox", recreate="always") as batch:
                batch.add_column(column)
                batch.create_primary_key("pk_inbox", ["bot_id", "update_id"])
        return
    op.add_column("inbox", column)
    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["bot_id", "update_id"])


def downgrade() -> None:
    """Key the inbox by update id again: of updates several bots share an id with, the lowest
    bot id's is kept."""
    op.execute(
        "DELETE FROM inbox WHERE EXISTS (SELECT 1 FROM inbox AS other"
        " WHERE other.update_id = inbox.update_id AND other.bot_id < inbox.bot_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_inbox'", sa.exc.SAWarning)
            with op.batch_alter_table("inbox", recreate="always") as batch:
                batch.drop_column("bot_id")
                batch.create_primary_key("pk_inbox", ["update_id"])
        return
    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["update_id"])
    op.drop_column("inbox", "bot_id")

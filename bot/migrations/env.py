"""Alembic environment: run the revisions on the connection the bot hands in."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]  # bot.schema.migrate passes its open connection
context.configure(
    connection=connection,
    target_metadata=config.attributes.get("metadata"),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

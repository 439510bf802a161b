"""Alembic migrations of the one database: the schema evolves by these revisions only."""

"""The whole schema: open the database and bring it to this release's revision.

Storage knows no feature, so this composition-root module names them: each import below
registers one feature's tables on the shared `Base` (the metadata the migrations are checked
against). The schema itself evolves by the Alembic revisions in bot/migrations only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot import ratelimit as _ratelimit  # noqa: F401  (the shared question limit)
from bot.accounts import models as _accounts  # noqa: F401
from bot.followup import broadcast as _broadcast  # noqa: F401
from bot.followup import escalation as _escalation  # noqa: F401
from bot.followup import feedback as _feedback  # noqa: F401
from bot.followup import survey as _survey  # noqa: F401
from bot.followup import webinars as _webinars  # noqa: F401
from bot.knowledge import models as _knowledge  # noqa: F401
from bot.scheduling import models as _scheduling  # noqa: F401
from bot.storage import flows as _flows  # noqa: F401  (dialogue state, no feature's)
from bot.storage import inbox as _inbox  # noqa: F401  (received updates)
from bot.storage.db import Base, Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema of the release of 2026-11-23, made by create_all
_LOCK = 7_274_001  # PostgreSQL advisory lock: one process migrates, the others wait


class SchemaError(Exception):
    """The database cannot be used by this release (newer than it, or unknown)."""


@dataclass(frozen=True)
class Revision:
    """Where a database stands against this release."""

    current: str | None
    head: str


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of bot/migrations, on an open connection if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["metadata"] = Base.metadata
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """Return the newest revision this release knows."""
    found = _script().get_current_head()
    assert found is not None
    return found


def known_revisions() -> set[str]:
    """Return every revision this release knows."""
    return {r.revision for r in _script().walk_revisions()}


def revision(db: Database) -> Revision:
    """Return the database's revision (None: not under migrations yet) and this release's head."""
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return Revision(current, head())


def not_current(db: Database, newest: str) -> str | None:
    """Return why the database is not at revision `newest` (None: it is); one small query."""
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == newest:
        return None
    return f"the database is at revision {current or '(none)'}, this release needs {newest}"


def migrate(db: Database) -> Revision:
    """Upgrade the database to this release's head; refuse one newer than this release.

    A database made before migrations existed (the release of 2026-11-23, by create_all) is
    stamped with the baseline first, so its rows are kept.
    """
    script = _script()
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as connection:
        if sqlite:
            # outside a transaction: a table copied by a batch migration must not cascade deletes
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            context = MigrationContext.configure(connection)
            before = context.get_current_revision()
            if before is not None and before not in known_revisions():
                raise SchemaError(
                    f"the database is at revision {before}, which this release does not know "
                    f"(its newest is {script.get_current_head()}): it was made by a newer "
                    "release; run that release, or restore a backup"
                )
            config = alembic_config(connection)
            if before is None and inspect(connection).has_table("users"):
                command.stamp(config, BASELINE)
                before = BASELINE
                log.info("database made before migrations: stamped %s", BASELINE)
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    if before != after:
        log.info("database upgraded from revision %s to %s", before or "(empty)", after)
    return Revision(after, script.get_current_head() or "")


def open_database(url: str, sqlite_synchronous: str = "NORMAL") -> Database:
    """Open the database at `url` and bring its schema to this release's revision."""
    db = Database(url, sqlite_synchronous)
    migrate(db)
    return db

"""The whole schema: open the database with every feature's tables created.

Storage knows no feature, so this composition-root module names them: each import below
registers one feature's tables on the shared `Base` before `create_schema` runs.
"""

from __future__ import annotations

from bot.accounts import models as _accounts  # noqa: F401
from bot.followup import escalation as _escalation  # noqa: F401
from bot.followup import feedback as _feedback  # noqa: F401
from bot.followup import survey as _survey  # noqa: F401
from bot.followup import webinars as _webinars  # noqa: F401
from bot.knowledge import models as _knowledge  # noqa: F401
from bot.scheduling import models as _scheduling  # noqa: F401
from bot.storage import flows as _flows  # noqa: F401  (dialogue state, no feature's)
from bot.storage.db import Database


def open_database(url: str) -> Database:
    """Open the database at `url` and create whichever of the application's tables it lacks."""
    db = Database(url)
    db.create_schema()
    return db

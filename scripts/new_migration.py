"""Write a new Alembic revision for a model change: `python scripts/new_migration.py "what changed"`.

It migrates a scratch SQLite database to the current head, compares it with the tables the code
declares, and writes the difference into bot/migrations/versions/. Read and edit the result:
autogenerate misses renames and data moves.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from bot.schema import alembic_config, head, open_database


def main(message: str) -> int:
    """Write the revision after the current head."""
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'scratch.sqlite3'}")
        number = f"{int(head()) + 1:04d}"
        with db.engine.begin() as connection:
            command.revision(
                alembic_config(connection), message=message, autogenerate=True, rev_id=number
            )
        db.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(sys.argv[1]))

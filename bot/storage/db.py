"""The one database: the declarative base, shared column types and the session factory.

Storage knows no feature: each feature declares its tables on `Base` in its own package, and
the schema is made and upgraded by the Alembic revisions in bot/migrations (bot/schema.py).
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


class TZDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every time in this project must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


def process_name() -> str:
    """Return a name for this process that no other process, here or elsewhere, shares.

    Claims and leases are written under it; a restarted process has a new one, so it takes its
    former self's claims back only once their leases run out, as any other process would.
    """
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def insert_missing(
    session: Session, table: type[Base], values: Mapping[str, Any], keys: Sequence[str]
) -> None:
    """Insert a row unless one with the same `keys` exists, in one statement.

    PostgreSQL's `ON CONFLICT DO NOTHING` and SQLite's `ON CONFLICT DO NOTHING`: two processes
    creating the same row at once both succeed, and both then find the one row.
    """
    session.execute(
        dialect_insert(session, table).values(**values).on_conflict_do_nothing(index_elements=keys)
    )


def dialect_insert(session: Session, table: type[Base]) -> Any:
    """Return the database's own INSERT for the table (PostgreSQL's or SQLite's: both have
    `ON CONFLICT` and `RETURNING`, which the generic one lacks)."""
    return insert_for(session.get_bind().dialect.name)(table)


def insert_for(dialect: str) -> Any:
    """Return the `insert` of the database named (PostgreSQL's or SQLite's)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def dialect_of(session: Session) -> str:
    """Return the name of the session's database (the key of the statements built once)."""
    return session.get_bind().dialect.name


@functools.cache
def built_upsert(
    dialect: str, table: type[Base], keys: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    """An upsert built once per database and table, to run on the session's connection
    with the row's values bound (`connection.execute(statement, values)`): the row is inserted,
    or the one with the same `keys` gets the inserted values of the `update` columns (the
    same `ON CONFLICT DO UPDATE`), and is returned as it is now (a Core row: every column).

    Building and hashing the statement again for every call was most of its Python.
    """
    columns: Any = table.__table__.c
    statement = insert_for(dialect)(table.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
    )
    return statement.returning(*columns)


@functools.cache
def built_insert(dialect: str, table: type[Base], returning: tuple[str, ...]) -> Any:
    """An INSERT of one row built once per database and table, to run on the session's
    connection with the row's values bound; it returns the `returning` columns (a generated
    id), in place of the ORM's add and flush."""
    columns: Any = table.__table__.c
    return insert_for(dialect)(table.__table__).returning(*(columns[n] for n in returning))


class Database:
    """Owns the engine and hands out sessions; one per process.

    `owner` names this Database's process in the claims it takes (reminders, reposts, updates):
    two Database objects are two claimants, as two processes are.
    """

    def __init__(self, url: str, sqlite_synchronous: str = "NORMAL") -> None:
        self.owner = process_name()
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, future=True)
            event.listen(
                self.engine,
                "connect",
                lambda connection, _record: _sqlite_pragmas(connection, sqlite_synchronous),
            )
        else:
            # use cases run in up to 32 worker threads; a connection the server dropped (a
            # restart, an idle timeout) is replaced before use instead of failing a question
            self.engine = create_engine(
                url, future=True, pool_size=10, max_overflow=22, pool_pre_ping=True
            )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


# SQLite's `synchronous` in WAL mode. FULL syncs the write-ahead log to the disk at every
# commit (about 4 ms here, under the one write lock every writer waits for: an update costs
# about 7 write transactions). NORMAL syncs only at checkpoints: a commit is as safe as with FULL
# against the process crashing or being killed (the log is in the OS's hands), and the database
# is never corrupted, but a power cut or an OS crash may undo the last transactions before the
# next checkpoint, an update already acknowledged to Telegram among them.
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL")


def _sqlite_pragmas(dbapi_connection: Any, synchronous: str = "NORMAL") -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()

"""Per-key sliding-window rate limiters: one in a process's memory, one shared in the database.

The bot's question limit is the shared one: with several processes behind one webhook a sender
is limited once, not once per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Index,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, Database, TZDateTime, insert_for, insert_missing, utcnow

log = logging.getLogger(__name__)


class RateLimiter:
    """Allow at most `limit` events per `window` seconds for each key."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._told: dict[Hashable, float] = {}  # when each key was last told it is refused
        self._lock = threading.Lock()

    def check(self, key: Hashable) -> float:
        """Record an event if allowed and return 0; otherwise return seconds until one is allowed."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, events[0] + self.window - now)
            events.append(now)
            return 0.0

    def told(self, key: Hashable) -> bool:
        """Tell whether `key` was already told of a refusal this window; if not, note it now.

        A refused sender hears it once per window: a reply to every refused message would spend
        the bot's global send budget on the flood, and the flooder learns nothing more from it.
        """
        now = self.clock()
        with self._lock:
            last = self._told.get(key)
            if last is not None and now - last < self.window:
                return True
            self._told[key] = now
            return False


class Limiter(Protocol):
    """What the question limit needs: count an event, and tell a refused key once per window."""

    def check(self, key: Hashable) -> float:
        """Record an event if allowed and return 0; otherwise return seconds until one is."""
        ...

    def told(self, key: Hashable) -> bool:
        """Tell whether `key` was already told of a refusal this window; if not, note it now."""
        ...


class RateKeyRow(Base):
    """One limited key (a sender): when it was last checked and last told it is refused.

    Each check updates this row first, which holds it for the check's transaction: two
    processes checking one sender at once count one after the other.
    """

    __tablename__ = "rate_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    told_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class RateEventRow(Base):
    """One counted event of a key, kept for one window."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TZDateTime)


class SharedRateLimiter:
    """The same sliding window kept in the database, so every process counts against one limit."""

    def __init__(
        self, db: Database, limit: int, window: float, clock: Callable[[], datetime] = utcnow
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.db = db
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.clock = clock
        self._swept: datetime | None = None  # when this process last forgot old events
        self._sweep_lock = threading.Lock()
        self._statements: dict[str, tuple[Any, Any, Any]] = {}  # by dialect, built once

    def _built(self, dialect: str) -> tuple[Any, Any, Any]:
        """Return the check's statements for this database (built once, run with bound values:
        building and hashing them again for every question was most of the check's Python)."""
        built = self._statements.get(dialect)
        if built is not None:
            return built
        keys: Any = RateKeyRow.__table__
        events: Any = RateEventRow.__table__
        make = insert_for(dialect)
        hold = make(keys).values(key=bindparam("key"), checked_at=bindparam("now"))
        hold = hold.on_conflict_do_update(
            index_elements=["key"], set_={"checked_at": hold.excluded.checked_at}
        )
        name, cutoff = bindparam("key", type_=String(64)), bindparam("cutoff", type_=TZDateTime)
        held = (
            select(events.c.id)
            .where(events.c.key == name, events.c.at > cutoff)
            .limit(self.limit)
            .subquery()
        )
        room = select(func.count()).select_from(held).scalar_subquery() < self.limit
        add = (
            insert(events)
            .from_select(
                ["key", "at"], select(name, bindparam("now", type_=TZDateTime)).where(room)
            )
            .returning(events.c.id)  # (psycopg's rowcount of an INSERT ... SELECT is -1)
        )
        first = select(func.min(events.c.at)).where(events.c.key == name, events.c.at > cutoff)
        built = self._statements[dialect] = (hold, add, first)
        return built

    def check(self, key: Hashable) -> float:
        """Record an event if allowed and return 0; otherwise return seconds until one is allowed.

        Two statements when allowed (a third, the earliest event's time, when refused): make
        the key's row or touch it, which holds it (a row lock on PostgreSQL, the write lock on
        SQLite) so that two processes checking one sender count one after the other; add this
        event only if fewer than `limit` of the key's events are in the window. Events out of the
        window are not counted; they are forgotten for every key at once, at most once a window
        in each process (`sweep`), not at every check.
        """
        name, now = str(key)[:64], self.clock()
        cutoff = now - self.window
        self.sweep(now)
        with self.db.session() as s:
            hold, add, first = self._built(s.get_bind().dialect.name)
            conn = s.connection()
            conn.execute(hold, {"key": name, "now": now})
            values = {"key": name, "now": now, "cutoff": cutoff}
            if conn.execute(add, values).first() is not None:
                return 0.0
            earliest = conn.execute(first, values).scalar()
            assert earliest is not None  # `limit` events are in the window, the row held
            return max(0.0, (earliest + self.window - now).total_seconds())

    def sweep(self, now: datetime | None = None) -> int:
        """Forget every key's events out of the window, if this process has not done so for a
        window (its own statement and transaction, held by no key's row); return how many."""
        now = now or self.clock()
        with self._sweep_lock:
            if self._swept is not None and now - self._swept < self.window:
                return 0
            self._swept = now
        try:
            with self.db.session() as s:
                gone = s.execute(delete(RateEventRow).where(RateEventRow.at <= now - self.window))
                return int(gone.rowcount)  # type: ignore[attr-defined]
        except Exception:  # nothing is counted wrongly meanwhile: old events are never counted
            log.warning("could not forget old rate-limit events; tried again next window")
            with self._sweep_lock:
                self._swept = None
            return 0

    def told(self, key: Hashable) -> bool:
        """Tell whether `key` was already told of a refusal this window; if not, note it now."""
        name, now = str(key)[:64], self.clock()
        with self.db.session() as s:
            insert_missing(s, RateKeyRow, {"key": name}, ["key"])
            noted = s.execute(
                update(RateKeyRow)
                .where(
                    RateKeyRow.key == name,
                    or_(RateKeyRow.told_at.is_(None), RateKeyRow.told_at <= now - self.window),
                )
                .values(told_at=now)
            )
            return not noted.rowcount  # type: ignore[attr-defined]

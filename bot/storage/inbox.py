"""The inbox: every update Telegram delivers, stored before Telegram is told it arrived.

An update is written here before the next long poll confirms it (or before the webhook answers
200), then claimed by whichever process claims it first, handled, and marked done. Several
processes share one inbox:

- a claim is one conditional UPDATE (on PostgreSQL over `FOR UPDATE SKIP LOCKED` candidates):
  each update goes to one process, for a lease that process renews while it works;
- a process killed mid-answer stops renewing: once its leases run out its updates are claimed by
  another process, or by itself after a restart (a restarted process has a new name);
- one sender's updates are handled in order across processes: only a sender's oldest update not
  done can be claimed, so the next one waits until the one in hand anywhere is done;
- an update claimed too often (it kills whoever handles it) is given up and marked done;
- the inbox is per bot: each update is stored under its bot's id (the public part of the token
  before ':'), update ids are counted per bot, and a process claims only its own bot's updates,
  so bots with different tokens can share one database.

Delivery is at least once: an update handled but not yet marked done when its process died is
handled again.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    String,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column

from bot.storage.db import Base, Database, TZDateTime, dialect_insert, utcnow

log = logging.getLogger(__name__)

# the update being handled, for work that must not be done twice when it is handled again
HANDLING: ContextVar[int | None] = ContextVar("handling_update", default=None)

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5  # claims of one update before it is given up (each one's process died on it)
# the bot of the updates stored before the inbox was per bot (migration 0012): the first bot to
# start takes them over (`adopt`)
NO_BOT = 0


class InboxRow(Base):
    """One received update: its body, its sender, when it came, who holds it, when it was done."""

    __tablename__ = "inbox"

    # whose bot it came to (its id, never its token) and its number there
    bot_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, server_default="0"
    )
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True, index=True)
    # whose update it is (the user, else the chat): one sender's updates are handled in order
    sender: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Inbox:
    """Stores one bot's received updates, hands them to one claimant each, forgets old handled
    ones (of every bot)."""

    def __init__(self, db: Database, bot_id: int, keep: timedelta = timedelta(days=1)) -> None:
        if bot_id <= NO_BOT:
            raise ValueError("a bot's id is positive")
        self.db = db
        self.bot_id = bot_id
        self.keep = keep
        self._built: dict[tuple[str, str], Any] = {}  # statements by use and dialect

    def adopt(self) -> int:
        """Take over the updates stored before the inbox was per bot (once: the first bot to
        start after the upgrade gets them); return how many."""
        mine = aliased(InboxRow, name="mine")
        taken = (
            select(mine.update_id)
            .where(mine.bot_id == self.bot_id, mine.update_id == InboxRow.update_id)
            .exists()
        )
        with self.db.session() as s:
            result = s.execute(
                update(InboxRow)
                .where(InboxRow.bot_id == NO_BOT, ~taken)
                .values(bot_id=self.bot_id)
                .execution_options(synchronize_session=False)
            )
            count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.info("%d updates stored before the inbox was per bot taken over", count)
        return count

    def store(self, update_id: int, body: dict[str, Any], sender: int | None = None) -> bool:
        """Store an update; return False if it was stored before (Telegram delivered it again)."""
        return update_id in self.store_many([(update_id, body, sender)])

    def store_many(self, updates: list[tuple[int, dict[str, Any], int | None]]) -> set[int]:
        """Store (update id, body, sender) updates in one statement and one transaction; return
        the ids stored now (the others were stored before: Telegram delivered them again)."""
        if not updates:
            return set()
        now = utcnow()
        rows = [
            {
                "bot_id": self.bot_id,
                "update_id": update_id,
                "body": body,
                "sender": sender,
                "received_at": now,
                "attempts": 0,
            }
            for update_id, body, sender in updates
        ]
        with self.db.session() as s:
            stored = s.scalars(
                dialect_insert(s, InboxRow)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["bot_id", "update_id"])
                .returning(InboxRow.update_id)
            )
            return set(stored)

    def claim(
        self,
        owner: str,
        limit: int,
        lease: timedelta = LEASE,
        now: datetime | None = None,
        done: list[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Claim up to `limit` updates for `owner`; return their bodies, oldest first.

        An update can be claimed when it is not done, nobody's lease holds it, and no earlier
        update of its sender is still not done (in hand elsewhere, or waiting its turn).
        `done`: updates handled, marked done first in the same transaction (so the next update
        of their senders can be claimed by it).
        """
        now = now or utcnow()
        if limit < 1:
            if done:
                with self.db.session() as s:
                    self._mark_done(s, done, now)
            return []
        with self.db.session() as s:
            if done:
                self._mark_done(s, done, now)
            claim, give_up = self._claim_statements(s.get_bind().dialect.name)
            rows = (
                s.connection()
                .execute(
                    claim,
                    {
                        "bot": self.bot_id,
                        "now": now,
                        "until": now + lease,
                        "owner": owner,
                        "limit": limit,
                    },
                )
                .all()
            )
            given_up = [r.update_id for r in rows if r.attempts > MAX_ATTEMPTS]
            if given_up:
                log.error("updates %s were claimed %d times: given up", given_up, MAX_ATTEMPTS)
                s.connection().execute(give_up, {"bot": self.bot_id, "now": now, "ids": given_up})
        return [
            r.body for r in sorted(rows, key=lambda r: r.update_id) if r.attempts <= MAX_ATTEMPTS
        ]

    def _claim_statements(self, dialect: str) -> tuple[Any, Any]:
        """Return the claim's UPDATE and the give-up's for this database, built once and run with
        bound values (building them again for every claim was most of its Python)."""
        built = self._built.get(("claim", dialect))
        if built is not None:
            return built
        table: Any = InboxRow.__table__
        c, e = table.alias("c"), table.alias("e")
        bot, now = bindparam("bot", type_=BigInteger), bindparam("now", type_=TZDateTime)
        earlier = (
            select(e.c.update_id)
            .where(
                e.c.bot_id == c.c.bot_id,
                e.c.sender == c.c.sender,
                e.c.done_at.is_(None),
                e.c.update_id < c.c.update_id,
            )
            .exists()
        )
        candidates = (
            select(c.c.update_id)
            .where(c.c.bot_id == bot, c.c.done_at.is_(None), _free(c.c, now), ~earlier)
            .order_by(c.c.update_id)
            .limit(bindparam("limit", type_=Integer))
        )
        chosen: Any = candidates
        if dialect == "postgresql":
            # candidates another claimant is taking right now are passed over, not waited for;
            # picked once, in a materialised CTE: as a subquery of `IN` PostgreSQL may run the
            # LIMIT again for each row it updates, and one claim took every pending update
            picked = (
                candidates.with_for_update(skip_locked=True)
                .cte("picked")
                .prefix_with("MATERIALIZED")
            )
            chosen = select(picked.c.update_id)
        claim = (
            update(table)
            .where(
                table.c.bot_id == bot,
                table.c.update_id.in_(chosen),
                table.c.done_at.is_(None),
                _free(table.c, now),  # checked again on the row itself: one claimant wins
            )
            .values(
                claimed_by=bindparam("owner", type_=String(80)),
                claimed_until=bindparam("until", type_=TZDateTime),
                attempts=table.c.attempts + 1,
            )
            .returning(table.c.update_id, table.c.body, table.c.attempts)
        )
        give_up = (
            update(table)
            .where(table.c.bot_id == bot, table.c.update_id.in_(bindparam("ids", expanding=True)))
            .values(done_at=now, claimed_until=None)
        )
        built = self._built[("claim", dialect)] = (claim, give_up)
        return built

    def renew(self, owner: str, update_ids: list[int], lease: timedelta = LEASE) -> int:
        """Extend `owner`'s leases on updates it still works on; return how many it holds."""
        if not update_ids:
            return 0
        with self.db.session() as s:
            result = s.execute(
                update(InboxRow)
                .where(
                    InboxRow.bot_id == self.bot_id,
                    InboxRow.update_id.in_(update_ids),
                    InboxRow.claimed_by == owner,
                    InboxRow.done_at.is_(None),
                )
                .values(claimed_until=utcnow() + lease)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def release(self, owner: str, update_ids: list[int]) -> None:
        """Give back updates `owner` claimed but never started (it is stopping)."""
        if not update_ids:
            return
        with self.db.session() as s:
            s.execute(
                update(InboxRow)
                .where(
                    InboxRow.bot_id == self.bot_id,
                    InboxRow.update_id.in_(update_ids),
                    InboxRow.claimed_by == owner,
                    InboxRow.done_at.is_(None),
                )
                .values(claimed_until=None, attempts=InboxRow.attempts - 1)
            )

    def done(self, update_id: int) -> None:
        """Mark an update handled."""
        with self.db.session() as s:
            self._mark_done(s, [update_id], utcnow())

    def done_many(self, update_ids: list[int]) -> None:
        """Mark updates handled, in one statement."""
        if update_ids:
            with self.db.session() as s:
                self._mark_done(s, update_ids, utcnow())

    def _mark_done(self, s: Any, update_ids: list[int], now: datetime) -> None:
        _, give_up = self._claim_statements(s.get_bind().dialect.name)  # the same UPDATE
        s.connection().execute(give_up, {"bot": self.bot_id, "now": now, "ids": update_ids})

    def pending(self) -> list[dict[str, Any]]:
        """Return the bodies of this bot's updates received but not handled, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(InboxRow.body)
                .where(InboxRow.bot_id == self.bot_id, InboxRow.done_at.is_(None))
                .order_by(InboxRow.update_id)
            )
            return list(rows)

    def prune(self) -> int:
        """Forget handled updates older than `keep`; return how many."""
        with self.db.session() as s:
            result = s.execute(delete(InboxRow).where(InboxRow.done_at < utcnow() - self.keep))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _free(row: Any, now: Any) -> Any:
    """Return the condition that no live lease holds the row."""
    return or_(row.claimed_until.is_(None), row.claimed_until <= now)

"""Broadcast: one message to many users, paced under Telegram's limits, counting blocked ones.

A broadcast is stored with its recipients; whoever sends it claims them, records each send as it
goes, and a broadcast whose process died is taken up by another once the claims ran out: each
recipient gets it once, whichever process sends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, Database, TZDateTime, utcnow

log = logging.getLogger(__name__)

# Telegram allows about 30 messages per second to different users; stay well under it.
DEFAULT_PER_SECOND = 20.0


class RecipientBlocked(Exception):
    """The recipient blocked the bot or deleted their account (Telegram's Forbidden)."""


class RetryLater(Exception):
    """Telegram asked to wait (flood control, its RetryAfter) before sending again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


@dataclass
class BroadcastResult:
    """How a broadcast went: delivered, blocked (by the recipient) and failed, with who."""

    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    blocked_ids: list[int] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)


def broadcast(
    recipients: Iterable[int],
    send: Callable[[int], object],
    per_second: float = DEFAULT_PER_SECOND,
    sleep: Callable[[float], object] = time.sleep,
    max_retries: int = 2,
) -> BroadcastResult:
    """Send to each recipient once, one at a time, at most `per_second` sends a second.

    `send(user_id)` raises RecipientBlocked for a user who blocked the bot, RetryLater when
    Telegram asks to slow down (waited out, then retried up to `max_retries` times), and any
    other exception for a failure; one recipient's failure never stops the broadcast.
    """
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    gap = 1.0 / per_second
    result = BroadcastResult()
    seen: set[int] = set()
    for user_id in recipients:
        if user_id in seen:  # a recipient listed twice still gets one message
            continue
        if seen:
            sleep(gap)
        seen.add(user_id)
        for attempt in range(max_retries + 1):
            try:
                send(user_id)
            except RecipientBlocked:
                result.blocked += 1
                result.blocked_ids.append(user_id)
            except RetryLater as exc:
                if attempt < max_retries:
                    sleep(exc.seconds)
                    continue
                result.failed += 1
                result.failed_ids.append(user_id)
            except Exception as exc:  # any other failure is counted; the rest still get the message
                log.warning("a broadcast message failed: %s", type(exc).__name__)  # not to whom
                result.failed += 1
                result.failed_ids.append(user_id)
            else:
                result.delivered += 1
            break
    return result  # the caller logs it, with the broadcast's id


LEASE = timedelta(minutes=2)  # renewed while the broadcast goes out


class BroadcastRow(Base):
    """A broadcast: its text, who sent it, and when its last recipient was done.

    `key` names the update that asked for it: an update handled again (its process died
    mid-broadcast) finds the broadcast it started instead of starting a second one.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    webinar: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class BroadcastRecipientRow(Base):
    """One recipient of a broadcast: pending until sent (or found blocked, or failed)."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # pending | delivered | blocked | failed
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


@dataclass(frozen=True)
class Claimed:
    """The recipients of one broadcast a process took to send to."""

    broadcast_id: int
    body: str
    created_by: int
    user_ids: list[int]


class BroadcastStore:
    """Broadcasts and their recipients: each recipient claimed, sent to, then recorded."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def start(
        self,
        webinar: str,
        body: str,
        created_by: int,
        recipients: Iterable[int],
        key: str | None,
        owner: str,
    ) -> Claimed:
        """Store a broadcast with its recipients claimed by `owner`, and return them.

        A broadcast stored before under `key` (its update handled again) is not stored again:
        what of it nobody holds any more is claimed, and the rest is left to its holder.
        """
        now = self.clock()
        with self.db.session() as s:
            found = None
            if key is not None:
                found = s.scalar(select(BroadcastRow.id).where(BroadcastRow.key == key))
            if found is None:
                row = BroadcastRow(
                    key=key, webinar=webinar, body=body, created_by=created_by, created_at=now
                )
                s.add(row)
                s.flush()
                unique = list(dict.fromkeys(recipients))  # someone listed twice gets one message
                s.add_all(
                    BroadcastRecipientRow(
                        broadcast_id=row.id,
                        user_id=u,
                        position=n,
                        claimed_by=owner,
                        claimed_until=now + LEASE,
                    )
                    for n, u in enumerate(unique)
                )
                return Claimed(row.id, body, created_by, unique)
        return self.claim(owner, int(found)) or Claimed(int(found), body, created_by, [])

    def claim(
        self, owner: str, broadcast_id: int | None = None, lease: timedelta = LEASE
    ) -> Claimed | None:
        """Take the pending recipients nobody holds, of one broadcast (the oldest, if not given).

        One conditional UPDATE: of two processes taking at once, each recipient goes to one.
        """
        now = self.clock()
        free = or_(
            BroadcastRecipientRow.claimed_until.is_(None),
            BroadcastRecipientRow.claimed_until <= now,
        )
        waiting = BroadcastRecipientRow.status == "pending"
        with self.db.session() as s:
            if broadcast_id is None:
                broadcast_id = s.scalar(
                    select(BroadcastRecipientRow.broadcast_id)
                    .where(waiting, free)
                    .order_by(BroadcastRecipientRow.broadcast_id)
                    .limit(1)
                )
                if broadcast_id is None:
                    return None
            taken = s.scalars(
                update(BroadcastRecipientRow)
                .where(BroadcastRecipientRow.broadcast_id == broadcast_id, waiting, free)
                .values(claimed_by=owner, claimed_until=now + lease)
                .returning(BroadcastRecipientRow.user_id)
                .execution_options(synchronize_session=False)
            ).all()
            row = s.get(BroadcastRow, broadcast_id)
            assert row is not None
            order = dict(
                s.execute(
                    select(BroadcastRecipientRow.user_id, BroadcastRecipientRow.position).where(
                        BroadcastRecipientRow.broadcast_id == broadcast_id
                    )
                )
                .tuples()
                .all()
            )
            users = sorted(taken, key=lambda u: order[u])
            return Claimed(broadcast_id, row.body, row.created_by, users)

    def record(self, broadcast_id: int, user_id: int, status: str, owner: str) -> None:
        """Record how a send went; renew the sender's hold on the rest of its recipients."""
        now = self.clock()
        with self.db.session() as s:
            s.execute(
                update(BroadcastRecipientRow)
                .where(
                    BroadcastRecipientRow.broadcast_id == broadcast_id,
                    BroadcastRecipientRow.user_id == user_id,
                )
                .values(status=status, claimed_until=None)
            )
            s.execute(
                update(BroadcastRecipientRow)
                .where(
                    BroadcastRecipientRow.broadcast_id == broadcast_id,
                    BroadcastRecipientRow.claimed_by == owner,
                    BroadcastRecipientRow.status == "pending",
                )
                .values(claimed_until=now + LEASE)
            )

    def finish(self, broadcast_id: int) -> bool:
        """Mark a broadcast finished once no recipient is pending; True for the caller who did."""
        pending = (
            select(BroadcastRecipientRow.user_id)
            .where(
                BroadcastRecipientRow.broadcast_id == broadcast_id,
                BroadcastRecipientRow.status == "pending",
            )
            .exists()
        )
        with self.db.session() as s:
            done = s.execute(
                update(BroadcastRow)
                .where(
                    BroadcastRow.id == broadcast_id, BroadcastRow.finished_at.is_(None), ~pending
                )
                .values(finished_at=self.clock())
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def result(self, broadcast_id: int) -> BroadcastResult:
        """Return how the broadcast went so far."""
        result = BroadcastResult()
        with self.db.session() as s:
            rows = s.execute(
                select(BroadcastRecipientRow.user_id, BroadcastRecipientRow.status)
                .where(BroadcastRecipientRow.broadcast_id == broadcast_id)
                .order_by(BroadcastRecipientRow.position)
            ).tuples()
            for user_id, status in rows:
                if status == "delivered":
                    result.delivered += 1
                elif status == "blocked":
                    result.blocked += 1
                    result.blocked_ids.append(user_id)
                elif status == "failed":
                    result.failed += 1
                    result.failed_ids.append(user_id)
        return result

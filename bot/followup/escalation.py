"""The escalation queue: questions the bot could not answer, or whose answer got 👎, for staff."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    Row,
    String,
    Text,
    bindparam,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.followup.feedback import QuestionRow
from bot.storage.db import (
    Base,
    Database,
    TZDateTime,
    built_insert,
    built_upsert,
    dialect_of,
    utcnow,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_ANSWER_CHARS = 4000  # what staff can type in one Telegram message after `/reply ID`
# a delivery holds its item this long at most: a bot stopped mid-delivery leaves no item stuck
CLAIM_TTL = timedelta(minutes=10)
# a re-post holds its item this long: another process re-posts it if the first died meanwhile
REPOST_LEASE = timedelta(minutes=10)


class Reason(StrEnum):
    """Why a question is in the queue."""

    UNGROUNDED = "ungrounded"
    DOWNVOTE = "downvote"


class Status(StrEnum):
    """Where a queued question stands."""

    OPEN = "open"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class EscalationRow(Base):
    """One question waiting for (or answered by) staff."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webinar: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # where it was asked
    # asked in a group (chat_id is the group): everyone there would read an answer sent there
    in_group: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    # the logged answer; unique so a 👎 on an already queued question adds nothing
    answer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.OPEN.value, index=True)
    assigned_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    answered_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    staff_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    dismissed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    dismissed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reposted_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # the process re-posting it holds it until then; reposted_at is set once the posts are out
    repost_claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    repost_claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # a staff answer on its way to the asker since then: the item stays open until it arrives
    delivering_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # why the last delivery of the staff answer failed (the answer is kept for a retry)
    delivery_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EscalationPostRow(Base):
    """A staff-chat message showing a queued question; a reply to it answers that question.

    A table rather than a JSON list on the item, so mapping a reply back is one indexed lookup.
    """

    __tablename__ = "escalation_posts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )


_ESCALATIONS: Any = EscalationRow.__table__
_COLUMNS = tuple(c.name for c in _ESCALATIONS.c)  # a new item is read back whole
_KNOWN = select(_ESCALATIONS.c.id).where(_ESCALATIONS.c.id == bindparam("id", type_=Integer))


class EscalationError(Exception):
    """A queue action that cannot be done; `reason` is an i18n key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EscalationItem:
    """A queued question as handlers see it."""

    id: int
    webinar: str | None
    user_id: int
    chat_id: int
    question: str
    language: str
    reason: str
    answer_id: int | None
    status: str
    assigned_to: int | None
    created_at: datetime
    answered_at: datetime | None
    answered_by: int | None
    staff_answer: str | None
    reposted_at: datetime | None
    posts: tuple[tuple[int, int], ...] = ()  # (chat_id, message_id) of the staff posts
    is_new: bool = False  # True only when `escalate` created it just now (so: post it)
    in_group: bool = False  # asked in a group chat: `chat_id` is the group
    delivery_error: str | None = None  # why the staff answer could not be delivered yet

    @property
    def is_open(self) -> bool:
        """Tell whether the item still waits for staff."""
        return self.status == Status.OPEN.value


@dataclass(frozen=True)
class Pending:
    """An open item with how long it has waited."""

    item: EscalationItem
    age: timedelta


def _items(s: Session, rows: Sequence[EscalationRow], is_new: bool = False) -> list[EscalationItem]:
    """Return the items of rows with their staff posts, read in one query for all of them."""
    posts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if rows:
        for item_id, chat_id, message_id in s.execute(
            select(
                EscalationPostRow.item_id, EscalationPostRow.chat_id, EscalationPostRow.message_id
            )
            .where(EscalationPostRow.item_id.in_([r.id for r in rows]))
            .order_by(EscalationPostRow.chat_id, EscalationPostRow.message_id)
        ):
            posts[item_id].append((int(chat_id), int(message_id)))
    return [_item(row, posts[row.id], is_new) for row in rows]


def _one(s: Session, row: EscalationRow, is_new: bool = False) -> EscalationItem:
    return _items(s, [row], is_new)[0]


def _item(
    row: EscalationRow | Row[Any], posts: list[tuple[int, int]], is_new: bool
) -> EscalationItem:
    return EscalationItem(
        id=row.id,
        webinar=row.webinar,
        user_id=row.user_id,
        chat_id=row.chat_id,
        question=row.question,
        language=row.language,
        reason=row.reason,
        answer_id=row.answer_id,
        status=row.status,
        assigned_to=row.assigned_to,
        created_at=row.created_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        staff_answer=row.staff_answer,
        reposted_at=row.reposted_at,
        posts=tuple(posts),
        is_new=is_new,
        in_group=bool(row.in_group),
        delivery_error=row.delivery_error,
    )


class EscalationService:
    """Queues questions for staff, maps staff posts back to them, records answers."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def escalate(
        self,
        user_id: int,
        chat_id: int,
        question: str,
        language: str,
        reason: Reason | str,
        answer_id: int | None = None,
        webinar: str | None = None,
        in_group: bool = False,
    ) -> EscalationItem:
        """Queue a question; for an answer already queued, return that item (with is_new False).

        `in_group` says the question was asked in the group `chat_id`, not in a private chat.
        """
        reason = Reason(reason)
        if answer_id is not None:
            existing = self._by_answer(answer_id)
            if existing is not None:
                return existing
        try:
            values = {
                "webinar": webinar or None,
                "user_id": user_id,
                "chat_id": chat_id,
                "in_group": in_group,
                "question": question,
                "language": (language or "en")[:8],
                "reason": reason.value,
                "answer_id": answer_id,
                "status": Status.OPEN.value,
                "created_at": self.clock(),
            }
            with self.db.session() as s:
                # one INSERT ... RETURNING built once, run with the row bound; a new item has no
                # posts yet (nobody else knows its id before this transaction ends)
                statement = built_insert(dialect_of(s), EscalationRow, _COLUMNS)
                row = s.connection().execute(statement, values).one()
                log.info("escalated %s (%s, webinar %s)", row.id, reason.value, webinar or "-")
                return _item(row, [], is_new=True)
        except IntegrityError:
            # a second 👎 raced the first one to the unique answer_id: the other insert won
            existing = self._by_answer(answer_id) if answer_id is not None else None
            if existing is None:
                raise
            return existing

    def escalate_answer(
        self, answer_id: int, reason: Reason | str, in_group: bool | None = None
    ) -> EscalationItem | None:
        """Queue a logged answer (from the question log); None if there is no such answer.

        Unless told, a question logged in a chat other than the asker's own (a private chat's
        id is its person's) counts as asked in a group.
        """
        with self.db.session() as s:
            row = s.get(QuestionRow, answer_id)
            if row is None:
                return None
            fields = (row.user_id, row.chat_id, row.question, row.language, row.webinar)
        user_id, chat_id, question, language, webinar = fields
        group = chat_id != user_id if in_group is None else in_group
        return self.escalate(
            user_id, chat_id, question, language, reason, answer_id, webinar, in_group=group
        )

    def _by_answer(self, answer_id: int) -> EscalationItem | None:
        with self.db.session() as s:
            query = select(EscalationRow).where(EscalationRow.answer_id == answer_id)
            row = s.scalars(query).first()
            return _one(s, row) if row else None

    def get(self, item_id: int) -> EscalationItem | None:
        """Return one item."""
        with self.db.session() as s:
            row = s.get(EscalationRow, item_id)
            return _one(s, row) if row else None

    def record_post(self, item_id: int, chat_id: int, message_id: int) -> None:
        """Remember a staff-chat message that shows the item, so replies to it find the item."""
        with self.db.session() as s:
            connection = s.connection()
            if connection.execute(_KNOWN, {"id": item_id}).first() is None:
                raise EscalationError("escalation_unknown")
            # the post's row made, or (a message id seen again) pointed at this item: built once
            keys, moved = ("chat_id", "message_id"), ("item_id",)
            post = built_upsert(dialect_of(s), EscalationPostRow, keys, moved)
            connection.execute(
                post, {"chat_id": chat_id, "message_id": message_id, "item_id": item_id}
            )

    def find_by_post(self, chat_id: int, message_id: int) -> EscalationItem | None:
        """Return the item a staff-chat message shows (whatever its status), or None."""
        with self.db.session() as s:
            post = s.get(EscalationPostRow, (chat_id, message_id))
            if post is None:
                return None
            row = s.get(EscalationRow, post.item_id)
            return _one(s, row) if row else None

    def assign(self, item_id: int, staff_id: int) -> EscalationItem:
        """Give an open item to a staff member."""
        return self._transition(item_id, {"assigned_to": staff_id})

    def dismiss(self, item_id: int, staff_id: int) -> EscalationItem:
        """Take an open item out of the queue without an answer."""
        now = self.clock()
        values = {"status": Status.DISMISSED.value, "dismissed_at": now, "dismissed_by": staff_id}
        return self._transition(item_id, values)

    def answer(self, item_id: int, staff_id: int, text: str) -> EscalationItem:
        """Record a staff answer to an open item as answered at once (nothing to deliver)."""
        self.claim(item_id, staff_id, text)
        return self.delivered(item_id)

    def claim(self, item_id: int, staff_id: int, text: str) -> EscalationItem:
        """Keep a staff answer on an open item and hold the item while the answer is delivered.

        The item stays open until `delivered`: an answer that never arrived must not close the
        question. A second answer while one is on its way is refused (two staff at once).
        """
        text = text.strip()
        if not text:
            raise EscalationError("escalation_empty_answer")
        if len(text) > MAX_ANSWER_CHARS:
            raise EscalationError("escalation_answer_too_long")
        now = self.clock()
        with self.db.session() as s:
            result = s.execute(
                update(EscalationRow)
                .where(
                    EscalationRow.id == item_id,
                    EscalationRow.status == Status.OPEN.value,
                    or_(
                        EscalationRow.delivering_at.is_(None),
                        EscalationRow.delivering_at <= now - CLAIM_TTL,
                    ),
                )
                .values(delivering_at=now, answered_by=staff_id, staff_answer=text)
                .execution_options(synchronize_session=False)
            )
            row = s.get(EscalationRow, item_id, populate_existing=True)
            if row is None:
                raise EscalationError("escalation_unknown")
            if result.rowcount == 0:  # type: ignore[attr-defined]
                busy = row.status == Status.OPEN.value
                raise EscalationError("escalation_busy" if busy else "escalation_closed")
            return _one(s, row)

    def delivered(self, item_id: int) -> EscalationItem:
        """Mark a claimed item answered: its answer arrived, or can never arrive and staff know."""
        values = {
            "status": Status.ANSWERED.value,
            "answered_at": self.clock(),
            "delivering_at": None,
            "delivery_error": None,
        }
        return self._transition(item_id, values)

    def release(self, item_id: int, error: str) -> EscalationItem:
        """Give a claimed item back to the queue after a failed delivery, its answer kept."""
        return self._transition(item_id, {"delivering_at": None, "delivery_error": error[:200]})

    def _transition(self, item_id: int, values: dict[str, object]) -> EscalationItem:
        """Change an item only while it is open, atomically (two staff may click at once)."""
        with self.db.session() as s:
            result = s.execute(
                update(EscalationRow)
                .where(EscalationRow.id == item_id, EscalationRow.status == Status.OPEN.value)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            row = s.get(EscalationRow, item_id, populate_existing=True)
            if row is None:
                raise EscalationError("escalation_unknown")
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise EscalationError("escalation_closed")
            return _one(s, row)

    def pending(self, webinar: str | None = None) -> list[Pending]:
        """Return the open items, oldest first, with their age (optionally of one webinar)."""
        now = self.clock()
        with self.db.session() as s:
            query = (
                select(EscalationRow)
                .where(EscalationRow.status == Status.OPEN.value)
                .order_by(EscalationRow.created_at, EscalationRow.id)
            )
            if webinar is not None:
                query = query.where(EscalationRow.webinar == webinar)
            rows = list(s.scalars(query))
            return [Pending(item, now - item.created_at) for item in _items(s, rows)]

    def due_for_repost(
        self, now: datetime, older_than: timedelta, owner: str = "", lease: timedelta = REPOST_LEASE
    ) -> list[EscalationItem]:
        """Claim the open items older than `older_than` not re-posted yet; return them.

        One conditional UPDATE takes them for `lease`, so of several processes looking at once
        each item goes to one. The caller posts them, then records it (`reposted`); an item whose
        poster died before that is claimed again once its lease ran out.
        """
        cutoff = now - older_than
        with self.db.session() as s:
            ids = s.scalars(
                update(EscalationRow)
                .where(
                    EscalationRow.status == Status.OPEN.value,
                    EscalationRow.reposted_at.is_(None),
                    EscalationRow.created_at <= cutoff,
                    or_(
                        EscalationRow.repost_claimed_until.is_(None),
                        EscalationRow.repost_claimed_until <= now,
                    ),
                )
                .values(repost_claimed_by=owner or None, repost_claimed_until=now + lease)
                .returning(EscalationRow.id)
                .execution_options(synchronize_session=False)
            ).all()
            if not ids:
                return []
            rows = list(
                s.scalars(
                    select(EscalationRow)
                    .where(EscalationRow.id.in_(ids))
                    .order_by(EscalationRow.created_at, EscalationRow.id)
                )
            )
            return _items(s, rows)

    def reposted(self, item_id: int, at: datetime) -> None:
        """Record that a claimed item was re-posted, so it never is again."""
        with self.db.session() as s:
            s.execute(
                update(EscalationRow)
                .where(EscalationRow.id == item_id)
                .values(reposted_at=at, repost_claimed_until=None)
            )

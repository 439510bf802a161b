"""The question log: every answer with its sources, the 👍/👎 vote on it, and staff statistics."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain import Answer, Asker
from bot.storage.db import Base, Database, TZDateTime, built_insert, dialect_of, utcnow


class QuestionRow(Base):
    """One answered (or declined) question."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(16))
    partner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    webinar: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    grounded: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    sources: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    vote: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 / -1
    voted_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


@dataclass(frozen=True)
class LoggedAnswer:
    """A logged answer as /sources shows it."""

    id: int
    question: str
    language: str
    sources: list[dict[str, object]]


class FeedbackService:
    """Logs answers, records votes, and summarises both for staff."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def log(self, user_id: int, chat_id: int, asker: Asker, answer: Answer) -> int:
        """Store an answer with its sources; return its id (the vote buttons carry it)."""
        sources = [
            {
                "n": c.n,
                "source": c.source,
                "title": c.title,
                "heading": c.shown_heading,
                "text": c.text[:600],
            }
            for c in answer.citations
        ]
        values = {
            "user_id": user_id,
            "chat_id": chat_id,
            "role": asker.role.value,
            "partner": asker.partner,
            "webinar": asker.webinar,
            "question": answer.question,
            "answer": answer.text,
            "grounded": answer.grounded,
            "language": answer.language,
            "sources": sources,
            "created_at": self.clock(),
        }
        with self.db.session() as s:
            # one INSERT ... RETURNING built once, run with the row bound (the ORM's add and
            # flush built and tracked the row again for every answer)
            statement = built_insert(dialect_of(s), QuestionRow, ("id",))
            return int(s.connection().execute(statement, values).scalar_one())

    def vote(self, answer_id: int, user_id: int, value: int) -> bool:
        """Record a vote by the person who asked; return False for someone else's answer."""
        if value not in (1, -1):
            raise ValueError("a vote is +1 or -1")
        with self.db.session() as s:
            row = s.get(QuestionRow, answer_id)
            if row is None or row.user_id != user_id:
                return False
            row.vote = value
            row.voted_at = self.clock()
            return True

    def last_answer(self, user_id: int, chat_id: int) -> LoggedAnswer | None:
        """Return the user's latest answer in this chat."""
        with self.db.session() as s:
            row = s.scalars(
                select(QuestionRow)
                .where(QuestionRow.user_id == user_id, QuestionRow.chat_id == chat_id)
                .order_by(QuestionRow.id.desc())
                .limit(1)
            ).first()
            return (
                LoggedAnswer(row.id, row.question, row.language, list(row.sources)) if row else None
            )

    def get(self, answer_id: int) -> QuestionRow | None:
        """Return one logged answer."""
        with self.db.session() as s:
            return s.get(QuestionRow, answer_id)

    def stats(self, days: int = 7, tz: tzinfo = UTC) -> dict[str, object]:
        """Summarise the last `days` days: answered, declined, votes, per role and day, top sources.

        Days are counted in `tz`, the office's zone, as webinar reports count them.
        """
        since = self.clock() - timedelta(days=days)
        with self.db.session() as s:
            rows = list(s.scalars(select(QuestionRow).where(QuestionRow.created_at >= since)))
        per_role: dict[str, Counter[str]] = defaultdict(Counter)
        per_day: dict[str, Counter[str]] = defaultdict(Counter)
        top: Counter[str] = Counter()
        for r in rows:
            outcome = "answered" if r.grounded else "declined"
            day = r.created_at.astimezone(tz).date().isoformat()
            for bucket in (per_role[r.role], per_day[day]):
                bucket[outcome] += 1
                if r.vote == 1:
                    bucket["up"] += 1
                elif r.vote == -1:
                    bucket["down"] += 1
            cited = {str(src["title"]) for src in r.sources[:3]}
            top.update(cited)
        return {
            "days": days,
            "total": len(rows),
            "answered": sum(1 for r in rows if r.grounded),
            "declined": sum(1 for r in rows if not r.grounded),
            "up": sum(1 for r in rows if r.vote == 1),
            "down": sum(1 for r in rows if r.vote == -1),
            "per_role": {k: dict(v) for k, v in sorted(per_role.items())},
            "per_day": {k: dict(v) for k, v in sorted(per_day.items())},
            "top_sources": top.most_common(5),
        }

"""The after-webinar survey: a 1–5 satisfaction score and an optional comment per attendee."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.followup.webinars import AttendeeRow
from bot.storage.db import Base, Database, TZDateTime, utcnow

Clock = Callable[[], datetime]
SCORES = (1, 2, 3, 4, 5)
MAX_COMMENT_CHARS = 2000


class SurveyResponseRow(Base):
    """One attendee's answer to one webinar's survey."""

    __tablename__ = "survey_responses"

    webinar: Mapped[str] = mapped_column(
        ForeignKey("webinars.code", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)


class SurveyError(Exception):
    """A survey answer that cannot be stored; `reason` is an i18n key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SurveyResults:
    """A webinar's survey: how many answered, the score distribution, the comments."""

    responses: int
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))
    average: float | None = None
    satisfied_pct: float | None = None  # share of 4 and 5 among responses, in percent
    comments: tuple[str, ...] = ()


def _validate_score(score: object) -> int:
    # bool is an int in Python; a button payload parsed wrongly must not count as a 1
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise SurveyError("survey_bad_score")
    return score


def _clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    comment = comment.strip()[:MAX_COMMENT_CHARS]
    return comment or None


class SurveyService:
    """Asks attendees for a score, stores one response per attendee and webinar, sums them up."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def ask(self, code: str) -> list[int]:
        """Return the attendees of a webinar who have not answered its survey yet."""
        with self.db.session() as s:
            answered = select(SurveyResponseRow.user_id).where(SurveyResponseRow.webinar == code)
            rows = s.scalars(
                select(AttendeeRow.user_id)
                .where(AttendeeRow.webinar == code, AttendeeRow.user_id.not_in(answered))
                .order_by(AttendeeRow.registered_at, AttendeeRow.user_id)
            )
            return [int(r) for r in rows]

    def record(self, code: str, user_id: int, score: int, comment: str | None = None) -> None:
        """Store an attendee's score; answering again replaces it and keeps an earlier comment."""
        score = _validate_score(score)
        comment = _clean_comment(comment)
        now = self.clock()
        with self.db.session() as s:
            if s.get(AttendeeRow, (code, user_id)) is None:
                raise SurveyError("survey_not_attendee")
            row = s.get(SurveyResponseRow, (code, user_id))
            if row is None:
                row = SurveyResponseRow(webinar=code, user_id=user_id, created_at=now)
                s.add(row)
            row.score = score
            if comment is not None:
                row.comment = comment
            row.updated_at = now

    def add_comment(self, code: str, user_id: int, comment: str) -> None:
        """Attach a comment to the attendee's response (the score comes first)."""
        text = _clean_comment(comment)
        if text is None:
            raise SurveyError("survey_empty_comment")
        with self.db.session() as s:
            row = s.get(SurveyResponseRow, (code, user_id))
            if row is None:
                raise SurveyError("survey_no_response")
            row.comment = text
            row.updated_at = self.clock()

    def results(self, code: str) -> SurveyResults:
        """Return the score distribution (1..5), average, share satisfied (4–5) and comments."""
        with self.db.session() as s:
            rows = list(
                s.scalars(
                    select(SurveyResponseRow)
                    .where(SurveyResponseRow.webinar == code)
                    .order_by(SurveyResponseRow.created_at, SurveyResponseRow.user_id)
                )
            )
        distribution = dict.fromkeys(SCORES, 0)
        for r in rows:
            distribution[r.score] += 1
        n = len(rows)
        if not n:
            return SurveyResults(0, distribution)
        return SurveyResults(
            responses=n,
            distribution=distribution,
            average=round(sum(r.score for r in rows) / n, 2),
            satisfied_pct=round(100 * (distribution[4] + distribution[5]) / n, 1),
            comments=tuple(r.comment for r in rows if r.comment),
        )

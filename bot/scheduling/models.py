"""Meeting tables on the shared `Base` and the plain types the services return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.db import Base, TZDateTime, utcnow


class MeetingRow(Base):
    """A booked (or cancelled) meeting with a partner city."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(128), unique=True)
    partner: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(Text)
    start: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    end: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    home_timezone: Mapped[str] = mapped_column(String(64))
    partner_timezone: Mapped[str] = mapped_column(String(64))
    video_url: Mapped[str] = mapped_column(Text)
    organizer_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(
        String(16), default="booked", index=True
    )  # booked | cancelled
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    invitees: Mapped[list[InviteeRow]] = relationship(
        back_populates="meeting",
        cascade="all, delete-orphan",
        order_by="InviteeRow.id",
        lazy="selectin",
    )
    reminders: Mapped[list[ReminderRow]] = relationship(
        back_populates="meeting",
        cascade="all, delete-orphan",
        order_by="ReminderRow.due_at",
        lazy="selectin",
    )


class InviteeRow(Base):
    """A person invited to a meeting: the organiser or a partner official (Telegram user)."""

    __tablename__ = "meeting_invitees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default="attendee")  # organizer | attendee

    meeting: Mapped[MeetingRow] = relationship(back_populates="invitees")


class ReminderRow(Base):
    """A reminder due before a meeting; its status survives restarts."""

    __tablename__ = "meeting_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    offset_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # pending | sent | skipped (meeting over before it could go out, or superseded) | cancelled
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # a process sending it holds it until then (it renews the hold while it sends); a process
    # that died holding it leaves it to the next one to look once the hold ran out
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    meeting: Mapped[MeetingRow] = relationship(back_populates="reminders")


class ReminderDeliveryRow(Base):
    """One invitee's copy of a reminder went out: a process that takes the reminder over after
    its sender died sends it only to the invitees without one."""

    __tablename__ = "meeting_reminder_deliveries"

    reminder_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_reminders.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


@dataclass(frozen=True)
class Invitee:
    """Someone to invite and remind, in their own language and time zone."""

    user_id: int
    language: str = "en"
    timezone: str = "UTC"
    name: str = ""
    email: str | None = None

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail early on an unknown zone


@dataclass(frozen=True)
class Meeting:
    """A meeting as services return it: aware times (home zone), video link, invitees."""

    id: int
    uid: str
    partner: str
    title: str
    start: datetime
    end: datetime
    home_timezone: str
    partner_timezone: str
    video_url: str
    status: str
    sequence: int
    organizer: Invitee | None
    invitees: tuple[Invitee, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def cancelled(self) -> bool:
        """Tell whether the meeting was cancelled."""
        return self.status == "cancelled"

    @property
    def partner_start(self) -> datetime:
        """Return the start in the partner's time zone."""
        return self.start.astimezone(ZoneInfo(self.partner_timezone))

    @property
    def partner_end(self) -> datetime:
        """Return the end in the partner's time zone."""
        return self.end.astimezone(ZoneInfo(self.partner_timezone))

    @classmethod
    def from_row(cls, row: MeetingRow) -> Meeting:
        """Convert a database row (with its invitees loaded)."""
        home = ZoneInfo(row.home_timezone)
        people = [
            (i.role, Invitee(i.user_id, i.language, i.timezone, i.name, i.email))
            for i in row.invitees
        ]
        organizer = next((p for role, p in people if role == "organizer"), None)
        return cls(
            id=row.id,
            uid=row.uid,
            partner=row.partner,
            title=row.title,
            start=row.start.astimezone(home),
            end=row.end.astimezone(home),
            home_timezone=row.home_timezone,
            partner_timezone=row.partner_timezone,
            video_url=row.video_url,
            status=row.status,
            sequence=row.sequence,
            organizer=organizer,
            invitees=tuple(p for _, p in people),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True)
class Reminder:
    """A reminder to send: its meeting, offset, due time, and whether it is late."""

    id: int
    meeting: Meeting
    offset: timedelta
    due_at: datetime
    late: bool
    # the invitees who have it already (a process that died sending it reached them)
    delivered: frozenset[int] = field(default=frozenset())

    @property
    def recipients(self) -> tuple[Invitee, ...]:
        """Return everyone invited (the organiser included) who does not have it yet."""
        return tuple(i for i in self.meeting.invitees if i.user_id not in self.delivered)

"""SchedulingService: slots, booking, cancelling, rescheduling, invites and stored reminders."""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, contains_eager

from bot.config import Settings
from bot.scheduling import slots as rules
from bot.scheduling.directory import City, Directory
from bot.scheduling.ics import DEFAULT_ORGANIZER_EMAIL, build_invite
from bot.scheduling.models import (
    Invitee,
    InviteeRow,
    Meeting,
    MeetingRow,
    Reminder,
    ReminderDeliveryRow,
    ReminderRow,
)
from bot.scheduling.texts import nearest_text, refusal_text
from bot.storage.db import Database, utcnow

log = logging.getLogger(__name__)

DEFAULT_VIDEO_URL_TEMPLATE = "https://meet.jit.si/{room}"
DEFAULT_REMINDER_OFFSETS = (timedelta(hours=24), timedelta(minutes=15))
# a reminder fired within this much of its due time is on time, not late
LATE_GRACE = timedelta(minutes=1)
# a process sending a reminder holds it this long (renewed after each recipient): the default of
# REMINDER_LEASE_S
REMINDER_LEASE = timedelta(minutes=5)
# the database's rule that booked meetings never overlap (migration 0006), named in its refusal
NO_OVERLAP = "meetings_no_overlap"
# PostgreSQL's deadlock_detected: two overlapping bookings inserted at the same moment can each
# wait on the other's row in the exclusion constraint's check, and one of them is cancelled
DEADLOCK = "40P01"

Clock = Callable[[], datetime]


class SchedulingError(Exception):
    """A scheduling request that cannot be done; the message says why."""


class BookingRefused(SchedulingError):
    """The meeting breaks a rule; carries every violation and the nearest valid slots."""

    def __init__(
        self, violations: Sequence[rules.Violation], nearest: Sequence[rules.Slot] = ()
    ) -> None:
        self.violations = list(violations)
        self.nearest = list(nearest)
        super().__init__("; ".join(v.reason for v in self.violations))

    @property
    def reasons(self) -> list[str]:
        """Return the human-readable reasons."""
        return [v.reason for v in self.violations]


class MeetingNotFound(SchedulingError, LookupError):
    """No meeting has this id."""


class MeetingCancelled(SchedulingError):
    """The meeting was already cancelled."""


class InvalidVideoUrl(SchedulingError, ValueError):
    """A pasted video link is not an https URL."""


def _minutes(duration: int | timedelta) -> timedelta:
    return duration if isinstance(duration, timedelta) else timedelta(minutes=int(duration))


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "", ascii_text.title())


def validate_video_url(url: str) -> str:
    """Return the URL stripped, or raise InvalidVideoUrl unless it is https with a host."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise InvalidVideoUrl(f"the video link must be an https:// URL, got {url!r}")
    return url


class SchedulingService:
    """Plain service the CLI and the Telegram handlers call; all state lives in the database."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        clock: Clock = utcnow,
        video_url_template: str = DEFAULT_VIDEO_URL_TEMPLATE,
        reminder_offsets: Iterable[timedelta] = DEFAULT_REMINDER_OFFSETS,
        organizer_email: str = DEFAULT_ORGANIZER_EMAIL,
        reminder_lease: timedelta = REMINDER_LEASE,
    ) -> None:
        if "{room}" not in video_url_template:
            raise ValueError("the video URL template must contain {room}")
        validate_video_url(video_url_template.replace("{room}", "room"))
        self.db = db
        self.directory = directory
        self.clock = clock
        self.video_url_template = video_url_template
        self.reminder_offsets = tuple(sorted(set(reminder_offsets), reverse=True))
        if any(o <= timedelta(0) for o in self.reminder_offsets):
            raise ValueError("reminder offsets must be positive")
        self.organizer_email = organizer_email
        if reminder_lease <= timedelta(0):
            raise ValueError("the reminder lease must be positive")
        self.reminder_lease = reminder_lease

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db: Database,
        clock: Clock = utcnow,
        partners_file: Path | None = None,
        directory: Directory | None = None,
    ) -> SchedulingService:
        """Build the service from settings (and a directory already loaded, if given); raise
        DirectoryError if the directory is invalid."""
        return cls(
            db,
            directory or Directory.load(partners_file or settings.partners_file),
            clock=clock,
            video_url_template=settings.video_url_template,
            reminder_offsets=tuple(timedelta(minutes=m) for m in settings.meeting_reminder_minutes),
            organizer_email=settings.meeting_organizer_email,
            reminder_lease=timedelta(seconds=settings.reminder_lease_s),
        )

    @property
    def home(self) -> City:
        """Return the home city."""
        return self.directory.home

    def now(self) -> datetime:
        """Return the service clock's current time (aware)."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        return now

    # -- rules -----------------------------------------------------------------------------

    def _busy(
        self, session: Session, start: datetime, end: datetime, exclude: int | None = None
    ) -> list[rules.Busy]:
        query = select(MeetingRow).where(
            MeetingRow.status == "booked", MeetingRow.start < end, MeetingRow.end > start
        )
        return [
            rules.Busy(r.start, r.end, r.id, r.title)
            for r in session.scalars(query)
            if r.id != exclude
        ]

    def check(
        self,
        partner: str | City,
        start: datetime,
        duration: int | timedelta,
        *,
        exclude: int | None = None,
    ) -> list[rules.Violation]:
        """Return the rules a meeting at `start` would break (empty when it may be booked)."""
        city = self.directory.get(partner)
        length = _minutes(duration)
        with self.db.session() as s:
            busy = self._busy(s, start, start + length, exclude)
        return rules.check(start, length, self.home, city, busy=busy, now=self.now())

    def slots(
        self, partner: str | City, first_day: date, days: int = 7, duration: int | timedelta = 60
    ) -> list[rules.Slot]:
        """Return the valid slots for `days` home dates from `first_day`."""
        city = self.directory.get(partner)
        tz = self.home.tz
        lo = datetime.combine(first_day, datetime.min.time(), tz)
        hi = datetime.combine(first_day + timedelta(days=max(days, 0) + 1), datetime.min.time(), tz)
        with self.db.session() as s:
            busy = self._busy(s, lo, hi)
        return rules.find_slots(
            self.home, city, first_day, days, _minutes(duration), busy=busy, now=self.now()
        )

    def nearest(
        self,
        partner: str | City,
        start: datetime,
        duration: int | timedelta,
        *,
        count: int = 3,
        exclude: int | None = None,
    ) -> list[rules.Slot]:
        """Return up to `count` valid slots closest to `start`."""
        city = self.directory.get(partner)
        window = timedelta(days=15)
        now = self.now()
        with self.db.session() as s:
            busy = self._busy(s, min(start, now) - window, max(start, now) + window, exclude)
        return rules.nearest(
            start, _minutes(duration), self.home, city, busy=busy, now=now, count=count
        )

    def vet(
        self, partner: str | City, start: datetime, duration: int | timedelta
    ) -> BookingRefused | None:
        """Return why a meeting at `start` cannot be booked, with the nearest valid slots, or None."""
        violations = self.check(partner, start, duration)
        if not violations:
            return None
        return BookingRefused(violations, self.nearest(partner, start, duration))

    def refusal(
        self,
        refused: BookingRefused,
        partner: str | City,
        lang: str,
        *,
        with_nearest: bool = True,
    ) -> str:
        """Return the refusal every front-end shows: each broken rule, then the nearest slots.

        Without `with_nearest` the slots are left out (a front-end offering them as buttons).
        The wording is texts.py's.
        """
        text = refusal_text(refused.violations, lang)
        if with_nearest and refused.nearest:
            city = self.directory.get(partner)
            text += "\n\n" + nearest_text(refused.nearest, self.home, city, lang)
        return text

    # -- booking ---------------------------------------------------------------------------

    def _reminder_rows(self, start: datetime, now: datetime) -> list[ReminderRow]:
        rows = []
        for offset in self.reminder_offsets:
            due = start - offset
            # booked closer than the offset: the invite itself is the notice
            status = "pending" if due > now else "skipped"
            rows.append(
                ReminderRow(
                    offset_minutes=int(offset.total_seconds() // 60), due_at=due, status=status
                )
            )
        return rows

    def new_video_url(self, partner: City) -> str:
        """Return a fresh video link with an unguessable room name."""
        room = f"{_slug(self.home.name)}-{_slug(partner.name)}-{secrets.token_urlsafe(16)}"
        return self.video_url_template.replace("{room}", room)

    def book(
        self,
        partner: str | City,
        start: datetime,
        duration: int | timedelta,
        title: str | None = None,
        organizer: Invitee | None = None,
        video_url: str | None = None,
        invitees: Iterable[Invitee] = (),
    ) -> Meeting:
        """Book a meeting, or raise BookingRefused with every broken rule and the nearest slots."""
        city = self.directory.get(partner)
        length = _minutes(duration)
        link = validate_video_url(video_url) if video_url else self.new_video_url(city)
        start = start.replace(microsecond=0)
        now = self.now()
        with self._overlap_refused(city, start, length), self.db.session() as s:
            busy = self._busy(s, start, start + length)
            violations = rules.check(start, length, self.home, city, busy=busy, now=now)
            if violations:
                raise BookingRefused(violations, self.nearest(city, start, length))
            row = MeetingRow(
                uid=f"{secrets.token_hex(16)}@exchange-bot",
                partner=city.name,
                title=(title or "").strip() or f"{self.home.name} · {city.name}",
                start=start,
                end=start + length,
                home_timezone=self.home.timezone,
                partner_timezone=city.timezone,
                video_url=link,
                organizer_id=organizer.user_id if organizer else None,
                status="booked",
                sequence=0,
                created_at=now,
                updated_at=now,
            )
            row.invitees = _invitee_rows(organizer, invitees)
            row.reminders = self._reminder_rows(start, now)
            s.add(row)
            s.flush()
            meeting = Meeting.from_row(row)
        log.info(
            "booked meeting #%s with %s at %s", meeting.id, city.name, meeting.start.isoformat()
        )
        return meeting

    @contextmanager
    def _overlap_refused(
        self, city: City, start: datetime, length: timedelta, exclude: int | None = None
    ) -> Iterator[None]:
        """Turn the database's refusal of an overlap into the refusal a sequential check gives.

        Two bookings of one time at the same moment both pass the check above; the database lets
        one in, and the other hears what it would have heard a moment later — whether PostgreSQL
        refused it by the constraint or, both rows waiting on each other, as a deadlock.
        """
        try:
            yield
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, IntegrityError) and NO_OVERLAP not in str(exc.orig):
                raise
            if isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", "") != DEADLOCK:
                raise
            log.info("booking at %s lost the race to another booking", start.isoformat())
            violations = [
                v for v in self.check(city, start, length, exclude=exclude) if v.rule == "overlap"
            ] or [rules.Violation("overlap", "overlaps a meeting booked at the same moment")]
            raise BookingRefused(
                violations, self.nearest(city, start, length, exclude=exclude)
            ) from None

    def get(self, meeting_id: int) -> Meeting:
        """Return a meeting, or raise MeetingNotFound."""
        with self.db.session() as s:
            return Meeting.from_row(self._row(s, meeting_id))

    def _row(self, session: Session, meeting_id: int) -> MeetingRow:
        row = session.get(MeetingRow, meeting_id)
        if row is None:
            raise MeetingNotFound(f"no meeting #{meeting_id}")
        return row

    def cancel(self, meeting_id: int) -> Meeting:
        """Cancel a meeting: bump SEQUENCE and drop its pending reminders; return it."""
        now = self.now()
        with self.db.session() as s:
            row = self._row(s, meeting_id)
            if row.status == "cancelled":
                raise MeetingCancelled(f"meeting #{meeting_id} is already cancelled")
            row.status = "cancelled"
            row.sequence += 1
            row.updated_at = now
            for reminder in row.reminders:
                if reminder.status == "pending":
                    reminder.status = "cancelled"
            s.flush()
            return Meeting.from_row(row)

    def reschedule(
        self, meeting_id: int, new_start: datetime, duration: int | timedelta | None = None
    ) -> Meeting:
        """Move a meeting (same UID, SEQUENCE+1, fresh reminders), or raise BookingRefused."""
        now = self.now()
        new_start = new_start.replace(microsecond=0)
        with self.db.session() as s:
            row = self._row(s, meeting_id)
            if row.status == "cancelled":
                raise MeetingCancelled(f"meeting #{meeting_id} is cancelled")
            city = self.directory.get(row.partner)
            length = _minutes(duration) if duration is not None else row.end - row.start
        with self._overlap_refused(city, new_start, length, meeting_id), self.db.session() as s:
            row = self._row(s, meeting_id)
            if row.status == "cancelled":
                raise MeetingCancelled(f"meeting #{meeting_id} is cancelled")
            busy = self._busy(s, new_start, new_start + length, exclude=row.id)
            violations = rules.check(new_start, length, self.home, city, busy=busy, now=now)
            if violations:
                raise BookingRefused(
                    violations, self.nearest(city, new_start, length, exclude=row.id)
                )
            row.start, row.end = new_start, new_start + length
            row.sequence += 1
            row.updated_at = now
            row.reminders = self._reminder_rows(new_start, now)
            s.flush()
            return Meeting.from_row(row)

    def list_upcoming(self, partner: str | City | None = None) -> list[Meeting]:
        """Return booked meetings that have not ended, soonest first (one partner's, if given)."""
        now = self.now()
        query = select(MeetingRow).where(MeetingRow.status == "booked", MeetingRow.end > now)
        if partner is not None:
            query = query.where(MeetingRow.partner == self.directory.get(partner).name)
        with self.db.session() as s:
            return [Meeting.from_row(r) for r in s.scalars(query.order_by(MeetingRow.start))]

    def ics(self, meeting: int | Meeting, timezone: str | None = None) -> bytes:
        """Return the `.ics` (REQUEST, or CANCEL once cancelled), times in `timezone` or home.

        Given the Meeting itself (as book, cancel and reschedule return it), nothing is read again.
        """
        return build_invite(
            self.get(meeting) if isinstance(meeting, int) else meeting,
            home_name=self.home.name,
            timezone=timezone,
            organizer_email=self.organizer_email,
            now=self.now(),
        )

    # -- reminders -------------------------------------------------------------------------

    def _settle(self, session: Session, now: datetime) -> list[Reminder]:
        """Skip reminders of meetings that are over and late ones superseded by a later late one."""
        query = (
            select(ReminderRow)
            .join(MeetingRow)
            .where(ReminderRow.status == "pending", MeetingRow.status == "booked")
            .order_by(ReminderRow.due_at)
            .options(contains_eager(ReminderRow.meeting))  # the joined meeting, not one read each
        )
        rows = list(session.scalars(query))
        latest_late: dict[int, ReminderRow] = {}
        for r in rows:
            if r.due_at <= now:
                latest_late[r.meeting_id] = r  # ordered by due_at: the last one wins
        kept: list[Reminder] = []
        skipped: list[int] = []
        for r in rows:
            meeting = r.meeting
            if meeting.end <= now:
                skipped.append(r.id)
                log.info("reminder %s skipped: meeting #%s is over", r.id, meeting.id)
                continue
            if r.due_at <= now and latest_late[r.meeting_id] is not r:
                skipped.append(r.id)  # two late reminders of one meeting: send only the nearer one
                continue
            kept.append(
                Reminder(
                    id=r.id,
                    meeting=Meeting.from_row(meeting),
                    offset=timedelta(minutes=r.offset_minutes),
                    due_at=r.due_at,
                    late=now - r.due_at > LATE_GRACE,
                )
            )
        if skipped:  # still pending and held by nobody: another process may be sending one
            session.execute(
                update(ReminderRow)
                .where(ReminderRow.id.in_(skipped), ReminderRow.status == "pending", _unheld(now))
                .values(status="skipped")
                .execution_options(synchronize_session=False)
            )
        return self._with_deliveries(session, kept, now)

    def _with_deliveries(
        self, session: Session, reminders: list[Reminder], now: datetime
    ) -> list[Reminder]:
        """Return the reminders with the invitees each due one reached already (one query)."""
        started = [r.id for r in reminders if r.due_at <= now]
        if not started:
            return reminders
        delivered: dict[int, set[int]] = {}
        for reminder_id, user_id in session.execute(
            select(ReminderDeliveryRow.reminder_id, ReminderDeliveryRow.user_id).where(
                ReminderDeliveryRow.reminder_id.in_(started)
            )
        ):
            delivered.setdefault(reminder_id, set()).add(user_id)
        return [
            replace(r, delivered=frozenset(delivered[r.id])) if r.id in delivered else r
            for r in reminders
        ]

    def pending_reminders(self, now: datetime | None = None) -> list[Reminder]:
        """Return every reminder still to send (future ones to schedule, late ones to send now)."""
        now = now or self.now()
        with self.db.session() as s:
            return self._settle(s, now)

    def due_reminders(self, now: datetime | None = None) -> list[Reminder]:
        """Return the unsent reminders to send now (due, or late while the meeting is not over)."""
        now = now or self.now()
        with self.db.session() as s:
            return [r for r in self._settle(s, now) if r.due_at <= now]

    def claim_due_reminders(
        self, owner: str, now: datetime | None = None, lease: timedelta | None = None
    ) -> list[Reminder]:
        """Take the due reminders nobody holds for `lease`, and return those this call took.

        One conditional UPDATE takes them: of several processes polling at once, each reminder
        goes to one. The taker sends it to each of its `recipients` (recording each one with
        `record_delivery`, which renews the hold), then marks it sent; one that died before
        that leaves it to whoever polls after the lease ran out, and its `recipients` are then
        only the invitees not recorded.
        """
        now = now or self.now()
        lease = lease or self.reminder_lease
        with self.db.session() as s:
            due = {r.id: r for r in self._settle(s, now) if r.due_at <= now}
            if not due:
                return []
            taken = s.scalars(
                update(ReminderRow)
                .where(ReminderRow.id.in_(due), ReminderRow.status == "pending", _unheld(now))
                .values(claimed_by=owner, claimed_until=now + lease)
                .returning(ReminderRow.id)
                .execution_options(synchronize_session=False)
            ).all()
        return sorted((due[i] for i in taken), key=lambda r: (r.due_at, r.id))

    def hold_reminder(self, reminder_id: int, owner: str, lease: timedelta | None = None) -> None:
        """Renew this process's hold on a reminder it is still sending."""
        with self.db.session() as s:
            self._hold(s, reminder_id, owner, lease)

    def _hold(
        self, s: Session, reminder_id: int, owner: str, lease: timedelta | None = None
    ) -> None:
        s.execute(
            update(ReminderRow)
            .where(ReminderRow.id == reminder_id, ReminderRow.claimed_by == owner)
            .values(claimed_until=self.now() + (lease or self.reminder_lease))
        )

    def record_delivery(
        self, reminder_id: int, user_id: int, owner: str, lease: timedelta | None = None
    ) -> None:
        """Record that one invitee got the reminder, and renew `owner`'s hold on it, at once.

        A process taking the reminder over later does not send it to this invitee again.
        """
        try:
            with self.db.session() as s:
                s.add(
                    ReminderDeliveryRow(
                        reminder_id=reminder_id, user_id=user_id, sent_at=self.now()
                    )
                )
                s.flush()
                self._hold(s, reminder_id, owner, lease)
        except IntegrityError:  # recorded already: a process whose hold had run out sent it too
            self.hold_reminder(reminder_id, owner, lease)

    def mark_reminder_sent(self, reminder_id: int, at: datetime | None = None) -> None:
        """Record that a reminder went out, so it is never sent again."""
        self._mark(reminder_id, "sent", at or self.now())

    def _mark(self, reminder_id: int, status: str, at: datetime | None) -> None:
        with self.db.session() as s:
            row = s.get(ReminderRow, reminder_id)
            if row is None:
                raise LookupError(f"no reminder {reminder_id}")
            row.status = status
            row.sent_at = at
            row.claimed_until = None


def _unheld(now: datetime) -> ColumnElement[bool]:
    """Return the condition that no live claim holds a reminder."""
    return or_(ReminderRow.claimed_until.is_(None), ReminderRow.claimed_until <= now)


def _invitee_rows(organizer: Invitee | None, invitees: Iterable[Invitee]) -> list[InviteeRow]:
    rows: list[InviteeRow] = []
    seen: set[int] = set()
    people = ([("organizer", organizer)] if organizer else []) + [("attendee", p) for p in invitees]
    for role, person in people:
        if person.user_id in seen:
            continue
        seen.add(person.user_id)
        rows.append(
            InviteeRow(
                user_id=person.user_id,
                language=person.language,
                timezone=person.timezone,
                name=person.name,
                email=person.email,
                role=role,
            )
        )
    return rows


__all__ = [
    "BookingRefused",
    "InvalidVideoUrl",
    "MeetingCancelled",
    "MeetingNotFound",
    "SchedulingError",
    "SchedulingService",
    "validate_video_url",
]

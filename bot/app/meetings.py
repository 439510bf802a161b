"""Meetings: /meet step by step, a meeting in a sentence, booking, invites, /cancel, reminders.

/meet is an explicit state machine kept in the flows table: partner → duration → week → slot →
title → confirm. Every button carries the flow's id and the step it answers, so a button of an
older /meet, a second press of the same button or forged data changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from bot.accounts.service import Person
from bot.app.base import Refused, UseCases, expired
from bot.app.messages import CAPTION_LIMIT, Actor, Button, File, Out, Reply, fit
from bot.domain import Role, fold_letters
from bot.i18n import t
from bot.scheduling.directory import City
from bot.scheduling.models import Invitee, Meeting
from bot.scheduling.parser import MeetingParseError
from bot.scheduling.service import (
    BookingRefused,
    InvalidVideoUrl,
    MeetingCancelled,
    MeetingNotFound,
    SchedulingService,
    validate_video_url,
)
from bot.scheduling.slots import Slot, format_local, format_slot

log = logging.getLogger(__name__)
T = TypeVar("T")

KIND = "meet"
DURATIONS = (30, 45, 60, 90)
WEEKS = 4
MAX_SLOT_BUTTONS = 8
_LINK = re.compile(r"https?://\S+")
_BUTTON = re.compile(r"m:([0-9]{1,9}):(p|d|w|s|t|ok|no):([\w-]{1,12})")
# A sentence is a meeting request only when it names a meeting and a partner city, and is not
# a question about a meeting ("What time is the March call with Düsseldorf?", "뒤셀도르프 화상회의
# 언제 했어요?": the documents answer those) unless it asks for one to be set up.
MEETING_WORDS = re.compile(
    r"회의|미팅|화상|통화|meeting|call|video\s*conference|termin|cuộc họp", re.I
)
ASKS_ABOUT = re.compile(
    r"^\s*(?:what|when|who|which|where|why|how|did|was|were|wann|wer|wie|welche\w*|wo|"
    r"warum|hat|haben|fand)\b|\b(?:khi nào|bao giờ|mấy giờ|ai|gì|nào)\s*\??\s*$|"
    r"언제|몇\s?시|무엇|뭐|어디|누구|누가|어떤|어느|왜|얼마|했(?:어|나|니|습니까|는지)",
    re.I,
)
SETS_UP = re.compile(
    r"\b(?:schedule|book|set up|arrange|organi[sz]e|plan|fix)\b|잡아|잡을|잡자|예약|만들어|"
    r"vereinbar|planen|ansetzen|buchen|\bđặt\b|lên lịch|sắp xếp",
    re.I,
)


class Meetings(UseCases):
    """Staff book, list, cancel and move meetings; partners list theirs; reminders go out."""

    @property
    def service(self) -> SchedulingService | None:
        """Return the scheduling service (None without a partner directory)."""
        return self.svc.scheduling

    def _staff_service(self, person: Person) -> SchedulingService:
        self.staff(person)
        if self.service is None:
            raise Refused(Reply.say(self.t("meet_disabled", person.language)))
        return self.service

    # ------------------------------------------------------------ /meet

    def meet(self, actor: Actor, _args: str = "") -> Reply:
        """Start booking: pick the partner city."""
        person = self.who(actor)
        service = self._staff_service(person)
        flow = self.flows.start(person.user_id, KIND, {"step": "p"})
        rows = [
            [Button(c.name, f"m:{flow.id}:p:{i}")] for i, c in enumerate(service.directory.partners)
        ]
        return Reply.say(self.t("meet_partner", person.language), rows)

    def button(self, actor: Actor, data: str) -> Reply:
        """Advance a /meet by one button; refuse a button of another, older or finished flow."""
        person = self.known(actor)
        found = _BUTTON.fullmatch(data)
        service = self.service
        if found is None or service is None or person.role is not Role.STAFF:
            return expired(person)
        flow = self.flows.get(int(found.group(1)), person.user_id, KIND)
        step, value = found.group(2), found.group(3)
        if flow is None:
            return expired(person)
        state = flow.state
        lang = person.language
        if step == "no":
            self.flows.finish(flow.id)
            return Reply(edit=Out(self.t("meet_aborted", lang)))
        current = state.get("step")
        if current != ("title" if step == "t" else step):
            return expired(person)  # a double tap, or a button the flow has moved past
        if step == "ok":
            return self._book_flow(person, service, flow.id, state)
        try:
            moved = self._advance(service, flow.id, state, step, value, lang)
        except (ValueError, IndexError):
            return expired(person)
        if moved is None or not self.flows.save(flow, expected_step=current):
            return expired(person)
        return Reply(edit=moved)

    def _advance(
        self,
        service: SchedulingService,
        flow_id: int,
        state: dict[str, Any],
        step: str,
        value: str,
        lang: str,
    ) -> Out | None:
        """Apply one step to the state and return the next question (None for a bad value)."""
        if step == "p":
            state.update(step="d", partner=_pick(service.directory.partners, value).name)
            row = [Button(f"{m}′", f"m:{flow_id}:d:{m}") for m in DURATIONS]
            return Out(self.t("meet_duration", lang), buttons=[row])
        if step == "d":
            if int(value) not in DURATIONS:
                return None
            state.update(step="w", duration=int(value))
            rows = [
                [Button(self.t(f"meet_week_{w}", lang), f"m:{flow_id}:w:{w}")] for w in range(WEEKS)
            ]
            return Out(self.t("meet_week", lang), buttons=rows)
        if step == "w":
            weeks = int(value)
            if not 0 <= weeks < WEEKS:
                return None
            city = service.directory.get(state["partner"])
            today = service.now().astimezone(service.home.tz).date()
            first = today if weeks == 0 else first_day_of_week(today, weeks)
            days = 7 - first.weekday() if weeks == 0 else 5
            picked = spread(service.slots(city, first, days, state["duration"]), MAX_SLOT_BUTTONS)
            if not picked:
                state.update(step="done")
                return Out(self.t("meet_no_slots", lang))
            state.update(step="s", slots=[s.start.isoformat() for s in picked])
            return Out(
                self.t("meet_slots", lang), buttons=self._slot_rows(flow_id, picked, city, lang)
            )
        if step == "s":
            state.update(step="title", start=_pick(state["slots"], value))
            skip = [[Button(self.t("meet_skip", lang), f"m:{flow_id}:t:-")]]
            return Out(self.t("meet_title", lang), buttons=skip)
        if step == "t":
            state.update(step="ok")
            return self._confirmation(service, flow_id, state, lang)
        return None

    def _slot_rows(
        self, flow_id: int, slots: list[Slot], city: City, lang: str
    ) -> list[list[Button]]:
        assert self.service is not None
        home = self.service.home
        return [
            [
                Button(
                    format_slot(s.start, s.end, home, city, lang, with_end=True),
                    f"m:{flow_id}:s:{i}",
                )
            ]
            for i, s in enumerate(slots)
        ]

    def _confirmation(
        self, service: SchedulingService, flow_id: int, state: dict[str, Any], lang: str
    ) -> Out:
        city = service.directory.get(state["partner"])
        start = datetime.fromisoformat(state["start"])
        end = start + timedelta(minutes=state["duration"])
        text = self.t(
            "meet_confirm",
            lang,
            title=state.get("title") or f"{service.home.name} · {city.name}",
            partner=city.name,
            minutes=state["duration"],
            when=format_slot(start, end, service.home, city, lang, with_end=True),
        )
        rows = [
            [
                Button(self.t("meet_book", lang), f"m:{flow_id}:ok:-"),
                Button(self.t("meet_abort", lang), f"m:{flow_id}:no:-"),
            ]
        ]
        return Out(text, buttons=rows)

    def awaits_title(self, actor: Actor) -> bool:
        """Tell whether the actor's open /meet waits for a typed title."""
        if self.service is None or actor.user_id not in self.svc.accounts.staff_ids:
            # only staff open a /meet (`_staff_service`): nobody else's text is read for one,
            # and their questions skip the look at the flows
            return False
        flow = self.flows.current(actor.user_id, KIND)
        return flow is not None and flow.state.get("step") == "title"

    def title(self, actor: Actor, text: str) -> Reply:
        """Take the typed title (and an optional own video link) of a /meet in progress."""
        person = self.who(actor)
        flow = self.flows.current(person.user_id, KIND)
        service = self.service
        if flow is None or service is None or flow.state.get("step") != "title":
            return Reply.say(self.t("offer_expired", person.language))
        text = text.strip()
        link = _LINK.search(text)
        if link:  # the organiser pasted the meeting's own video link (Zoom, Webex, Teams, ...)
            try:
                flow.state["video_url"] = validate_video_url(link.group(0))
            except InvalidVideoUrl:
                return Reply.say(self.t("meet_bad_link", person.language))
            text = (text[: link.start()] + text[link.end() :]).strip(" -–·:")
        flow.state.update(step="ok", title=text[:200] or None)
        self.flows.save(flow)
        return Reply(messages=[self._confirmation(service, flow.id, flow.state, person.language)])

    def _book_flow(
        self, person: Person, service: SchedulingService, flow_id: int, state: dict[str, Any]
    ) -> Reply:
        if not self.flows.finish(flow_id):  # a double tap on Book books once
            return expired(person)
        lang = person.language
        try:
            meeting = self.book(
                person,
                state["partner"],
                datetime.fromisoformat(state["start"]),
                state["duration"],
                state.get("title"),
                state.get("video_url"),
            )
        except BookingRefused as refused:  # someone booked that slot meanwhile
            return Reply(edit=Out(service.refusal(refused, state["partner"], lang)))
        return Reply(edit=Out(self.booked_text(meeting, lang)))

    # ------------------------------------------------------------ a meeting in one sentence

    def looks_like_request(self, actor: Actor, text: str) -> bool:
        """Tell whether a staff member's message asks for a meeting (a meeting word and a city)."""
        service = self.service
        if service is None or actor.user_id not in self.svc.accounts.staff_ids:
            return False
        if not MEETING_WORDS.search(text) or (ASKS_ABOUT.search(text) and not SETS_UP.search(text)):
            return False
        # accents and case as the directory's resolver ignores them (Dusseldorf, BIEN HOA)
        folded = fold_letters(text)
        return any(
            fold_letters(name) in folded
            for city in service.directory.partners
            for name in city.names()
        )

    def sentence(self, actor: Actor, text: str) -> Reply:
        """Parse a meeting written in a sentence, check it, and ask to confirm (or say why not)."""
        person = self.who(actor)
        service = self._staff_service(person)
        parser = self.svc.meeting_parser
        assert parser is not None
        lang = person.language
        try:
            request = parser.parse(text, default_duration=60)
        except MeetingParseError as exc:
            fields = ", ".join(self.t(f"meet_field_{f}", lang) for f in exc.missing) or "?"
            return Reply.say(self.t("meet_missing", lang, fields=fields))
        city = request.partner
        state: dict[str, Any] = {
            "partner": city.name,
            "duration": request.duration_minutes,
            "title": request.title,
        }
        refused = service.vet(city, request.start, request.duration_minutes)
        if refused is None:
            flow = self.flows.start(
                person.user_id, KIND, {**state, "step": "ok", "start": request.start.isoformat()}
            )
            return Reply(messages=[self._confirmation(service, flow.id, flow.state, lang)])
        state.update(step="s", slots=[s.start.isoformat() for s in refused.nearest])
        flow = self.flows.start(person.user_id, KIND, state)
        rows = self._slot_rows(flow.id, refused.nearest, city, lang)
        text = service.refusal(refused, city, lang, with_nearest=False)
        return Reply.say(text + ("\n\n" + self.t("meet_nearest", lang) if rows else ""), rows)

    # ------------------------------------------------------------ booking and notices

    def book(
        self,
        person: Person,
        partner: str,
        start: datetime,
        duration: int,
        title: str | None,
        video_url: str | None = None,
    ) -> Meeting:
        """Book a meeting with the partner's registered officials invited, and send the invites."""
        service = self._staff_service(person)
        city = service.directory.get(partner)
        invitees = [
            Invitee(official.user_id, official.language, city.timezone)
            for official in self.svc.accounts.partner_officials(city.name)
        ]
        organizer = Invitee(person.user_id, person.language, service.home.timezone)
        meeting = service.book(
            city,
            start,
            duration,
            title,
            organizer=organizer,
            video_url=video_url,
            invitees=invitees,
        )
        self.send_invites(meeting, "meet_invite")
        return meeting

    def booked_text(self, meeting: Meeting, lang: str) -> str:
        """Return the organiser's confirmation of a booked meeting."""
        assert self.service is not None
        service = self.service
        city = service.directory.get(meeting.partner)
        organizer = meeting.organizer.user_id if meeting.organizer else None
        others = [i for i in meeting.invitees if i.user_id != organizer]
        return self.t(
            "meet_booked",
            lang,
            id=meeting.id,
            partner=city.name,
            title=meeting.title,
            when=format_slot(meeting.start, meeting.end, service.home, city, lang, with_end=True),
            url=meeting.video_url,
            count=len(others),
        )

    def send_invites(self, meeting: Meeting, key: str) -> None:
        """Send each invitee the notice in their language and zone, with the `.ics` in their zone."""
        assert self.service is not None
        service = self.service
        city = service.directory.get(meeting.partner)
        for invitee in meeting.invitees:
            when = format_local(meeting.start, meeting.end, invitee.timezone, invitee.language)
            partner = city.name if invitee.timezone != city.timezone else service.home.name
            text = captioned(
                key,
                invitee.language,
                meeting.title,
                partner=partner,
                when=when,
                url=meeting.video_url,
            )
            ics = File(f"meeting-{meeting.id}.ics", service.ics(meeting, timezone=invitee.timezone))
            self.deliver(Out(text, chat_id=invitee.user_id, file=ics))

    # ------------------------------------------------------------ /meetings, /cancel, /reschedule

    def list(self, actor: Actor, _args: str = "") -> Reply:
        """List upcoming meetings: staff see all, partner officials their city's."""
        person = self.who(actor)
        service = self.service
        if person.role not in (Role.STAFF, Role.PARTNER):
            return Reply.say(self.t("staff_only", person.language))
        if service is None:
            return Reply.say(self.t("meet_disabled", person.language))
        partner = None
        if person.role is Role.PARTNER:
            partner = service.directory.find(person.partner or "")
            if partner is None:
                return Reply.say(self.t("meetings_none", person.language))
        upcoming = service.list_upcoming(partner)
        if not upcoming:
            return Reply.say(self.t("meetings_none", person.language))
        tz = partner.tz if partner is not None else service.home.tz
        lines = [self.t("meetings_header", person.language)]
        lines += [
            f"#{m.id} {format_local(m.start, m.end, tz, person.language)} · {m.partner} · "
            f"{m.title}\n   {m.video_url}"
            for m in upcoming
        ]
        return Reply.say("\n".join(lines))

    def cancel(self, actor: Actor, args: str) -> Reply:
        """Cancel a meeting and send everyone invited the cancellation."""
        person = self.who(actor)
        service = self._staff_service(person)
        meeting_id = _meeting_id(args)
        if meeting_id is None:
            return Reply.say(self.t("meet_cancel_usage", person.language))
        try:
            meeting = service.cancel(meeting_id)
        except (MeetingNotFound, MeetingCancelled):
            return Reply.say(self.t("meet_not_found", person.language, id=meeting_id))
        self.send_invites(meeting, "meet_cancel_notice")
        return Reply.say(
            self.t("meet_cancelled", person.language, id=meeting.id, title=meeting.title)
        )

    def reschedule(self, actor: Actor, args: str) -> Reply:
        """Move a meeting to a new start (home time unless an offset is given) and re-invite."""
        person = self.who(actor)
        service = self._staff_service(person)
        words = args.split()
        meeting_id = _meeting_id(args)
        try:
            new_start = datetime.fromisoformat(words[1]) if meeting_id and len(words) > 1 else None
        except ValueError:
            new_start = None
        if meeting_id is None or new_start is None:
            return Reply.say(self.t("meet_reschedule_usage", person.language))
        if new_start.tzinfo is None:
            new_start = new_start.replace(tzinfo=service.home.tz)
        try:
            meeting = service.reschedule(meeting_id, new_start)
        except (MeetingNotFound, MeetingCancelled):
            return Reply.say(self.t("meet_not_found", person.language, id=meeting_id))
        except BookingRefused as refused:
            partner = service.get(meeting_id).partner
            return Reply.say(service.refusal(refused, partner, person.language))
        self.send_invites(meeting, "meet_reschedule_notice")
        city = service.directory.get(meeting.partner)
        when = format_slot(
            meeting.start, meeting.end, service.home, city, person.language, with_end=True
        )
        return Reply.say(self.t("meet_rescheduled", person.language, id=meeting.id, when=when))

    # ------------------------------------------------------------ reminders (a job)

    def send_due_reminders(self) -> int:
        """Send every reminder that is due (late ones once, marked late); return how many."""
        service = self.service
        if service is None:
            return 0
        now = service.now()
        owner = self.svc.db.owner
        # every process runs this job: each reminder is claimed by one, sent to each invitee
        # (each one recorded as it goes), then marked sent; one taken over from a process that
        # died while sending it goes only to the invitees not recorded
        due = service.claim_due_reminders(owner, now)
        for reminder in due:
            meeting = reminder.meeting
            city = service.directory.get(meeting.partner)
            reached = 0
            recipients = reminder.recipients
            for invitee in recipients:
                lang = invitee.language
                minutes = max(1, round((meeting.start - now).total_seconds() / 60))
                rel = (
                    self.t("meet_in_hours", lang, n=round(minutes / 60))
                    if minutes >= 120
                    else self.t("meet_in_minutes", lang, n=minutes)
                )
                key = "meet_reminder_late" if reminder.late else "meet_reminder"
                partner = city.name if invitee.timezone != city.timezone else service.home.name
                text = self.t(
                    key,
                    lang,
                    title=meeting.title,
                    partner=partner,
                    when_rel=rel,
                    when=format_local(meeting.start, meeting.end, invitee.timezone, lang),
                    url=meeting.video_url,
                )
                if self.deliver(Out(text, chat_id=invitee.user_id)) is not None:
                    reached += 1
                # recorded also when it cannot arrive (blocked): sent again it would not either
                service.record_delivery(reminder.id, invitee.user_id, owner)
            service.mark_reminder_sent(reminder.id, now)
            # nothing personal: the process (on every line), the meeting, how many were reached
            log.info(
                "reminder %s of meeting #%s sent%s: %d of %d invitees reached%s",
                reminder.id,
                meeting.id,
                " late" if reminder.late else "",
                reached,
                len(recipients),
                f" ({len(reminder.delivered)} had it from a process that stopped)"
                if reminder.delivered
                else "",
            )
        return len(due)


def spread(slots: list[Slot], n: int) -> list[Slot]:
    """Pick up to n slots spread over the range, so every day gets a chance."""
    if len(slots) <= n:
        return slots
    step = len(slots) / n
    return [slots[int(i * step)] for i in range(n)]


def first_day_of_week(today: date, weeks_ahead: int) -> date:
    """Return the Monday `weeks_ahead` weeks from today's week."""
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)


def _pick(items: Sequence[T], value: str) -> T:
    """Return the item a button's index names; IndexError for anything else (forged data)."""
    if not value.isdecimal() or int(value) >= len(items):
        raise IndexError(value)
    return items[int(value)]


def _meeting_id(args: str) -> int | None:
    words = args.split()
    if not words or not words[0].lstrip("#").isdecimal() or len(words[0]) > 9:
        return None
    return int(words[0].lstrip("#"))


def captioned(key: str, lang: str, title: str, **values: object) -> str:
    """Return a notice that goes as a file's caption: a long title gives way, never the rest.

    The time and the video link come after the title; a caption cut at its limit would lose
    them, so the title alone is shortened until the whole fits.
    """
    return fit(lambda shown: t(key, lang, title=shown, **values), title, CAPTION_LIMIT)

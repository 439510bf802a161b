"""Meeting handlers: /meet step by step, a meeting written in a sentence, invites, reminders."""

from __future__ import annotations

import html
import logging
import re
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.accounts.service import Person
from bot.domain import Role
from bot.i18n import t
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
from bot.telegram import webinars
from bot.telegram.common import is_group, reply, require_staff, sender, services
from bot.telegram.handlers import question

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
DURATIONS = (30, 45, 60, 90)
_LINK = re.compile(r"https?://\S+")
MAX_SLOT_BUTTONS = 8
# A sentence is treated as a meeting request only when it names a meeting and a partner city.
MEETING_WORDS = re.compile(
    r"회의|미팅|화상|통화|meeting|call|video\s*conference|termin|cuộc họp", re.I
)


def _scheduling(context: Context) -> SchedulingService | None:
    return services(context).scheduling


async def _staff_scheduling(
    update: Update, context: Context
) -> tuple[Person, SchedulingService] | None:
    """Return the staff member and the service, or reply why not."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return None
    service = _scheduling(context)
    if service is None:
        await reply(update, t("meet_disabled", person.language))
        return None
    return person, service


# ---------------------------------------------------------------- /meet, step by step


async def meet(update: Update, context: Context) -> None:
    """Start booking: pick the partner city."""
    found = await _staff_scheduling(update, context)
    if found is None:
        return
    person, service = found
    context.user_data["meet"] = {}  # type: ignore[index]
    rows = [
        [InlineKeyboardButton(c.name, callback_data=f"m:p:{i}")]
        for i, c in enumerate(service.directory.partners)
    ]
    await reply(update, t("meet_partner", person.language), reply_markup=InlineKeyboardMarkup(rows))


async def meet_button(update: Update, context: Context) -> None:
    """Advance the /meet flow by one button: partner → duration → week → slot → title → confirm."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    person = services(context).accounts.person(query.from_user.id)
    service = _scheduling(context)
    state = (context.user_data or {}).get("meet")
    if person.role is not Role.STAFF or service is None or state is None:
        return
    lang = person.language
    _, step, value = query.data.split(":", 2)

    async def edit(text: str, rows: list[list[InlineKeyboardButton]] | None = None) -> None:
        markup = InlineKeyboardMarkup(rows) if rows else None
        await query.edit_message_text(
            html.escape(text), parse_mode=ParseMode.HTML, reply_markup=markup
        )

    if step == "p":
        state.clear()
        state["partner"] = service.directory.partners[int(value)].name
        await edit(
            t("meet_duration", lang),
            [[InlineKeyboardButton(f"{m}′", callback_data=f"m:d:{m}") for m in DURATIONS]],
        )
    elif step == "d" and "partner" in state:
        state["duration"] = int(value)
        await edit(
            t("meet_week", lang),
            [
                [InlineKeyboardButton(t(f"meet_week_{w}", lang), callback_data=f"m:w:{w}")]
                for w in range(4)
            ],
        )
    elif step == "w" and "duration" in state:
        today = service.now().astimezone(service.home.tz).date()
        first = today if value == "0" else first_day_of_week(today, int(value))
        days = 7 - first.weekday() if value == "0" else 5
        city = service.directory.get(state["partner"])
        slots = service.slots(city, first, days, state["duration"])
        if not slots:
            state.clear()
            await edit(t("meet_no_slots", lang))
            return
        picked = _spread(slots, MAX_SLOT_BUTTONS)
        state["slots"] = [s.start.isoformat() for s in picked]
        rows = [
            [
                InlineKeyboardButton(
                    format_slot(s.start, s.end, service.home, city, lang, with_end=True),
                    callback_data=f"m:s:{i}",
                )
            ]
            for i, s in enumerate(picked)
        ]
        await edit(t("meet_slots", lang), rows)
    elif step == "s" and "slots" in state:
        state["start"] = state["slots"][int(value)]
        state["awaiting_title"] = True
        await edit(
            t("meet_title", lang),
            [[InlineKeyboardButton(t("meet_skip", lang), callback_data="m:t:-")]],
        )
    elif step == "t" and "start" in state:
        state["awaiting_title"] = False
        await edit(*_confirmation(state, service, lang))
    elif step == "ok" and "start" in state:
        context.user_data.pop("meet", None)  # type: ignore[union-attr]
        start = datetime.fromisoformat(state["start"])
        try:
            meeting = _book(
                context,
                service,
                person,
                state["partner"],
                start,
                state["duration"],
                state.get("title"),
                state.get("video_url"),
            )
        except BookingRefused as refused:  # someone booked that slot meanwhile
            await edit(service.refusal(refused, state["partner"], lang))
            return
        await edit(_booked_text(meeting, service, lang))
        await send_invites(context, service, meeting, "meet_invite")
    elif step == "no":
        context.user_data.pop("meet", None)  # type: ignore[union-attr]
        await edit(t("meet_aborted", lang))


def _spread(slots: list[Slot], n: int) -> list[Slot]:
    """Pick up to n slots spread over the range, so every day gets a chance."""
    if len(slots) <= n:
        return slots
    step = len(slots) / n
    return [slots[int(i * step)] for i in range(n)]


def _confirmation(
    state: dict[str, Any], service: SchedulingService, lang: str
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    city = service.directory.get(state["partner"])
    start = datetime.fromisoformat(state["start"])
    end = start + timedelta(minutes=state["duration"])
    title = state.get("title") or f"{service.home.name} · {city.name}"
    text = t(
        "meet_confirm",
        lang,
        title=title,
        partner=city.name,
        minutes=state["duration"],
        when=format_slot(start, end, service.home, city, lang, with_end=True),
    )
    rows = [
        [
            InlineKeyboardButton(t("meet_book", lang), callback_data="m:ok:-"),
            InlineKeyboardButton(t("meet_abort", lang), callback_data="m:no:-"),
        ]
    ]
    return text, rows


async def meet_title(update: Update, context: Context) -> bool:
    """Take the typed title of a /meet in progress; return False if no title was awaited."""
    state = (context.user_data or {}).get("meet")
    message = update.effective_message
    if not state or not state.get("awaiting_title") or message is None or not message.text:
        return False
    person = sender(update, context)
    service = _scheduling(context)
    if service is None:
        return False
    text = message.text.strip()
    link = _LINK.search(text)
    if link:  # the organiser pasted the meeting's own video link (Zoom, Webex, Teams, ...)
        try:
            state["video_url"] = validate_video_url(link.group(0))
        except InvalidVideoUrl:
            await reply(update, t("meet_bad_link", person.language))
            return True
        text = (text[: link.start()] + text[link.end() :]).strip(" -–·:")
    state["title"] = text[:200] or None
    state["awaiting_title"] = False
    text, rows = _confirmation(state, service, person.language)
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))
    return True


# ---------------------------------------------------------------- a meeting in one sentence


async def text_message(update: Update, context: Context) -> None:
    """Route plain text: a staff answer, a survey comment, a /meet title, a meeting sentence, a question."""
    if await webinars.staff_reply(update, context):
        return
    if not is_group(update):
        if await webinars.survey_comment(update, context):
            return
        if await meet_title(update, context):
            return
        message, user = update.effective_message, update.effective_user
        svc = services(context)
        # staff is decided by id, so a question costs no extra account write to find that out
        if (
            message is not None
            and message.text
            and user is not None
            and user.id in svc.accounts.staff_ids
            and svc.scheduling is not None
            and looks_like_meeting_request(message.text, svc.scheduling)
        ):
            await meeting_sentence(update, context, message.text, sender(update, context))
            return
    await question(update, context)


def looks_like_meeting_request(text: str, service: SchedulingService) -> bool:
    """Tell whether a staff message asks for a meeting (a meeting word and a partner name)."""
    if not MEETING_WORDS.search(text):
        return False
    folded = text.casefold()
    return any(
        name.casefold() in folded for city in service.directory.partners for name in city.names()
    )


async def meeting_sentence(update: Update, context: Context, text: str, person: Person) -> None:
    """Parse a meeting written in a sentence, check it, and ask to confirm (or say what is wrong)."""
    svc = services(context)
    service, parser = svc.scheduling, svc.meeting_parser
    assert service is not None and parser is not None
    lang = person.language
    try:
        request = parser.parse(text, default_duration=60)
    except MeetingParseError as exc:
        fields = ", ".join(t(f"meet_field_{f}", lang) for f in exc.missing) or "?"
        await reply(update, t("meet_missing", lang, fields=fields))
        return
    city = request.partner
    refused = service.vet(city, request.start, request.duration_minutes)
    if refused is not None:
        state = {
            "partner": city.name,
            "duration": request.duration_minutes,
            "title": request.title,
            "slots": [s.start.isoformat() for s in refused.nearest],
        }
        context.user_data["meet"] = state  # type: ignore[index]
        rows = [
            [
                InlineKeyboardButton(
                    format_slot(s.start, s.end, service.home, city, lang, with_end=True),
                    callback_data=f"m:s:{i}",
                )
            ]
            for i, s in enumerate(refused.nearest)
        ]
        await reply(
            update,
            service.refusal(refused, city, lang, with_nearest=False)
            + ("\n\n" + t("meet_nearest", lang) if rows else ""),
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )
        return
    state = {
        "partner": city.name,
        "duration": request.duration_minutes,
        "start": request.start.isoformat(),
        "title": request.title,
    }
    context.user_data["meet"] = state  # type: ignore[index]
    body, rows = _confirmation(state, service, lang)
    await reply(update, body, reply_markup=InlineKeyboardMarkup(rows))


# ---------------------------------------------------------------- booking and notices


def _book(
    context: Context,
    service: SchedulingService,
    person: Person,
    partner: str,
    start: datetime,
    duration: int,
    title: str | None,
    video_url: str | None = None,
) -> Meeting:
    city = service.directory.get(partner)
    invitees = [
        Invitee(official.user_id, official.language, city.timezone)
        for official in services(context).accounts.partner_officials(city.name)
    ]
    organizer = Invitee(person.user_id, person.language, service.home.timezone)
    return service.book(
        city, start, duration, title, organizer=organizer, video_url=video_url, invitees=invitees
    )


def _booked_text(meeting: Meeting, service: SchedulingService, lang: str) -> str:
    city = service.directory.get(meeting.partner)
    others = [
        i
        for i in meeting.invitees
        if meeting.organizer is None or i.user_id != meeting.organizer.user_id
    ]
    return t(
        "meet_booked",
        lang,
        id=meeting.id,
        partner=city.name,
        title=meeting.title,
        when=format_slot(meeting.start, meeting.end, service.home, city, lang, with_end=True),
        url=meeting.video_url,
        count=len(others),
    )


async def send_invites(
    context: Context, service: SchedulingService, meeting: Meeting, key: str
) -> None:
    """Send each invitee the notice in their language and zone, with the `.ics` in their zone."""
    city = service.directory.get(meeting.partner)
    for invitee in meeting.invitees:
        when = format_local(meeting.start, meeting.end, invitee.timezone, invitee.language)
        text = t(
            key,
            invitee.language,
            title=meeting.title,
            partner=city.name if invitee.timezone != city.timezone else service.home.name,
            when=when,
            url=meeting.video_url,
        )
        ics = service.ics(meeting, timezone=invitee.timezone)
        try:
            await context.bot.send_document(
                invitee.user_id,
                document=BytesIO(ics),
                filename=f"meeting-{meeting.id}.ics",
                caption=html.escape(text)[:1000],
                parse_mode=ParseMode.HTML,
            )
        except Forbidden:
            log.info(
                "invitee %s blocked the bot; meeting %s notice not delivered",
                invitee.user_id,
                meeting.id,
            )
        except TelegramError as exc:
            log.warning(
                "could not send meeting %s notice to %s: %s", meeting.id, invitee.user_id, exc
            )


# ---------------------------------------------------------------- /meetings, /cancel, /reschedule


async def meetings(update: Update, context: Context) -> None:
    """List upcoming meetings: staff see all, partner officials their city's."""
    person = sender(update, context)
    service = _scheduling(context)
    if person.role not in (Role.STAFF, Role.PARTNER):
        await reply(update, t("staff_only", person.language))
        return
    if service is None:
        await reply(update, t("meet_disabled", person.language))
        return
    partner = None
    if person.role is Role.PARTNER:
        partner = service.directory.find(person.partner or "")
        if partner is None:
            await reply(update, t("meetings_none", person.language))
            return
    upcoming = service.list_upcoming(partner)
    if not upcoming:
        await reply(update, t("meetings_none", person.language))
        return
    tz = service.home.tz if person.role is Role.STAFF else partner.tz  # type: ignore[union-attr]
    lines = [t("meetings_header", person.language)]
    for m in upcoming:
        lines.append(
            f"#{m.id} {format_local(m.start, m.end, tz, person.language)} · {m.partner} · {m.title}\n   {m.video_url}"
        )
    await reply(update, "\n".join(lines))


def _meeting_id(context: Context) -> int | None:
    if not context.args or not context.args[0].lstrip("#").isdigit():
        return None
    return int(context.args[0].lstrip("#"))


async def cancel(update: Update, context: Context) -> None:
    """Cancel a meeting and send everyone invited the cancellation (same UID, higher SEQUENCE)."""
    found = await _staff_scheduling(update, context)
    if found is None:
        return
    person, service = found
    meeting_id = _meeting_id(context)
    if meeting_id is None:
        await reply(update, t("meet_cancel_usage", person.language))
        return
    try:
        meeting = service.cancel(meeting_id)
    except (MeetingNotFound, MeetingCancelled):
        await reply(update, t("meet_not_found", person.language, id=meeting_id))
        return
    await send_invites(context, service, meeting, "meet_cancel_notice")
    await reply(update, t("meet_cancelled", person.language, id=meeting.id, title=meeting.title))


async def reschedule(update: Update, context: Context) -> None:
    """Move a meeting to a new home-time start and send everyone the updated invite."""
    found = await _staff_scheduling(update, context)
    if found is None:
        return
    person, service = found
    meeting_id = _meeting_id(context)
    args = context.args or []
    try:
        new_start = datetime.fromisoformat(args[1]) if meeting_id and len(args) > 1 else None
    except ValueError:
        new_start = None
    if meeting_id is None or new_start is None:
        await reply(update, t("meet_reschedule_usage", person.language))
        return
    if new_start.tzinfo is None:
        new_start = new_start.replace(tzinfo=service.home.tz)
    try:
        meeting = service.reschedule(meeting_id, new_start)
    except (MeetingNotFound, MeetingCancelled):
        await reply(update, t("meet_not_found", person.language, id=meeting_id))
        return
    except BookingRefused as refused:
        partner = service.get(meeting_id).partner
        await reply(update, service.refusal(refused, partner, person.language))
        return
    await send_invites(context, service, meeting, "meet_reschedule_notice")
    city = service.directory.get(meeting.partner)
    await reply(
        update,
        t(
            "meet_rescheduled",
            person.language,
            id=meeting.id,
            when=format_slot(
                meeting.start, meeting.end, service.home, city, person.language, with_end=True
            ),
        ),
    )


# ---------------------------------------------------------------- reminders


async def send_due_reminders(context: Context) -> None:
    """Send every reminder that is due (late ones once, marked late); run by the job queue."""
    service = _scheduling(context)
    if service is None:
        return
    now = service.now()
    for reminder in service.due_reminders(now):
        meeting = reminder.meeting
        city = service.directory.get(meeting.partner)
        for invitee in reminder.recipients:
            lang = invitee.language
            minutes = max(1, round((meeting.start - now).total_seconds() / 60))
            rel = (
                t("meet_in_hours", lang, n=round(minutes / 60))
                if minutes >= 120
                else t("meet_in_minutes", lang, n=minutes)
            )
            key = "meet_reminder_late" if reminder.late else "meet_reminder"
            partner = city.name if invitee.timezone != city.timezone else service.home.name
            text = t(
                key,
                lang,
                title=meeting.title,
                partner=partner,
                when_rel=rel,
                when=format_local(meeting.start, meeting.end, invitee.timezone, lang),
                url=meeting.video_url,
            )
            try:
                await context.bot.send_message(
                    invitee.user_id, html.escape(text), parse_mode=ParseMode.HTML
                )
            except TelegramError as exc:
                log.info("reminder %s not delivered to %s: %s", reminder.id, invitee.user_id, exc)
        service.mark_reminder_sent(reminder.id, now)


def first_day_of_week(today: date, weeks_ahead: int) -> date:
    """Return the Monday `weeks_ahead` weeks from today's week."""
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)

"""iCalendar invites: REQUEST when booked, CANCEL when cancelled, with VTIMEZONE blocks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from bot.scheduling.models import Invitee, Meeting
from bot.scheduling.slots import format_local

PRODID = "-//Exchange Bot//Partner meetings//EN"
DEFAULT_ORGANIZER_EMAIL = "noreply@exchange-bot.invalid"


def _address(value: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(value)
    if name:
        address.params["CN"] = vText(name)
    for key, param in params.items():
        address.params[key.replace("_", "-").upper()] = vText(param)
    return address


def _invitee_address(person: Invitee) -> str:
    # Telegram users have no e-mail address: a URN keeps the ATTENDEE a valid cal-address
    return f"mailto:{person.email}" if person.email else f"urn:x-telegram:user:{person.user_id}"


def _vtimezone(tzid: str, start: datetime) -> Timezone:
    """Return a VTIMEZONE covering the years around the meeting (enough for a one-off event)."""
    first, last = date(start.year - 1, 1, 1), date(start.year + 1, 12, 31)
    return Timezone.from_tzinfo(ZoneInfo(tzid), tzid=tzid, first_date=first, last_date=last)


def build_invite(
    meeting: Meeting,
    *,
    home_name: str = "",
    timezone: str | None = None,
    organizer_email: str = DEFAULT_ORGANIZER_EMAIL,
    now: datetime | None = None,
) -> bytes:
    """Return the `.ics` for a meeting: METHOD:REQUEST, or METHOD:CANCEL once cancelled."""
    tzid = timezone or meeting.home_timezone
    zone = ZoneInfo(tzid)
    cancelled = meeting.cancelled
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "CANCEL" if cancelled else "REQUEST")
    cal.add_component(_vtimezone(tzid, meeting.start))

    event = Event()
    event.add("UID", meeting.uid)
    event.add("SEQUENCE", meeting.sequence)
    event.add("DTSTAMP", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("CREATED", meeting.created_at.astimezone(UTC))
    event.add("LAST-MODIFIED", meeting.updated_at.astimezone(UTC))
    event.add("DTSTART", meeting.start.astimezone(zone))
    event.add("DTEND", meeting.end.astimezone(zone))
    event.add("SUMMARY", meeting.title)
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    event.add("URL", meeting.video_url)
    event.add("LOCATION", meeting.video_url)
    home_line = format_local(meeting.start, meeting.end, meeting.home_timezone, "en")
    partner_line = format_local(meeting.start, meeting.end, meeting.partner_timezone, "en")
    description = [
        f"{'CANCELLED: ' if cancelled else ''}{meeting.title}",
        f"Video: {meeting.video_url}",
        f"{home_name or 'Home'}: {home_line}",
        f"{meeting.partner}: {partner_line}",
    ]
    event.add("DESCRIPTION", "\n".join(description))
    organizer_name = (
        f"{home_name} International Exchange" if home_name else "International Exchange"
    )
    event.add("ORGANIZER", _address(f"mailto:{organizer_email}", organizer_name))
    for person in meeting.invitees:
        event.add(
            "ATTENDEE",
            _address(
                _invitee_address(person),
                person.name or f"Telegram user {person.user_id}",
                role="REQ-PARTICIPANT",
                partstat="NEEDS-ACTION",
                rsvp="FALSE",
                cutype="INDIVIDUAL",
            ),
        )
    cal.add_component(event)
    return cal.to_ical()

"""The .ics invites read back with icalendar: local times, VTIMEZONE, UID/SEQUENCE, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from tests.scheduling import BERLIN, LA, FakeClock, database, directory, seoul

D = directory()
START = seoul(2026, 3, 31, 16)  # 09:00 CEST in Düsseldorf, two days after the switch


@pytest.fixture
def service(database_url: str) -> Iterator[SchedulingService]:
    db = database(database_url)
    yield SchedulingService(db, D, FakeClock(seoul(2026, 3, 18, 10)))
    db.close()


def _event(data: bytes) -> tuple[Calendar, Any]:
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def test_invite_reads_back_with_the_right_local_times_and_vtimezone(
    service: SchedulingService,
) -> None:
    m = service.book(
        "Düsseldorf",
        START,
        60,
        "Budget talk",
        Invitee(1, "ko", "Asia/Seoul", "Kim"),
        invitees=[Invitee(2, "de", "Europe/Berlin", "Anna", "anna@duesseldorf.example")],
    )
    data = service.ics(m.id)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    cal, event = _event(data)
    assert cal["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Seoul"]
    dtstart: datetime = event["DTSTART"].dt
    dtend: datetime = event["DTEND"].dt
    assert event["DTSTART"].params["TZID"] == "Asia/Seoul"
    assert dtstart == START and dtend == START + timedelta(hours=1)
    assert dtstart.strftime("%H:%M") == "16:00"
    assert dtstart.astimezone(BERLIN).strftime("%H:%M %Z") == "09:00 CEST"
    assert str(event["UID"]) == m.uid and event["SEQUENCE"] == 0
    assert str(event["SUMMARY"]) == "Budget talk" and str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == m.video_url and str(event["LOCATION"]) == m.video_url
    assert m.video_url in str(event["DESCRIPTION"])
    assert "Düsseldorf: Tue Mar 31 09:00–10:00 CEST" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]).startswith("mailto:")
    attendees = [str(a) for a in event["ATTENDEE"]]
    assert attendees == ["urn:x-telegram:user:1", "mailto:anna@duesseldorf.example"]
    assert event["DTSTAMP"].dt.tzinfo is not None


def test_invite_in_the_partners_zone_carries_its_daylight_saving_rules(
    service: SchedulingService,
) -> None:
    m = service.book("Düsseldorf", START, 60, "In Berlin time")
    cal, event = _event(service.ics(m.id, timezone="Europe/Berlin"))
    (vtz,) = cal.walk("VTIMEZONE")
    assert vtz["TZID"] == "Europe/Berlin"
    assert {c.name for c in vtz.subcomponents} == {"STANDARD", "DAYLIGHT"}
    assert event["DTSTART"].dt.strftime("%Y-%m-%d %H:%M") == "2026-03-31 09:00"
    assert event["DTSTART"].dt == START
    # the VTIMEZONE block alone is enough for a client without the tz database: its offsets match
    offsets = {(c.name, c["TZOFFSETTO"].td) for c in vtz.subcomponents}
    assert ("DAYLIGHT", timedelta(hours=2)) in offsets and (
        "STANDARD",
        timedelta(hours=1),
    ) in offsets


def test_invite_for_an_american_partner_shows_their_date(service: SchedulingService) -> None:
    m = service.book("Riverton", seoul(2026, 11, 3, 9), 30, "Riverton call")
    _, event = _event(service.ics(m.id, timezone="America/Los_Angeles"))
    assert event["DTSTART"].dt.strftime("%a %Y-%m-%d %H:%M") == "Mon 2026-11-02 16:00"
    assert event["DTSTART"].dt.astimezone(LA).utcoffset() == timedelta(hours=-8)


def test_cancel_sends_the_same_uid_with_a_higher_sequence_and_cancelled_status(
    service: SchedulingService,
) -> None:
    m = service.book("Düsseldorf", START, 60, "Cancelled one")
    service.cancel(m.id)
    cal, event = _event(service.ics(m.id))
    assert cal["METHOD"] == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED" and str(event["UID"]) == m.uid
    assert event["SEQUENCE"] == 1


def test_reschedule_sends_the_same_uid_with_the_new_time(service: SchedulingService) -> None:
    m = service.book("Düsseldorf", START, 60, "Moved one")
    service.reschedule(m.id, START + timedelta(days=1))
    cal, event = _event(service.ics(m.id))
    assert cal["METHOD"] == "REQUEST" and str(event["UID"]) == m.uid
    assert event["SEQUENCE"] == 1
    assert event["DTSTART"].dt == START + timedelta(days=1)

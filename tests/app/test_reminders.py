"""Meeting reminders: due ones are sent in each invitee's zone, late ones once, after a restart too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app.core import App
from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from tests.app.conftest import RecordingOutbox
from tests.conftest import ROOT

STAFF, PARTNER = 100, 300


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_reminders_are_sent_when_due_and_late_ones_once_after_a_restart(
    make_services, outbox: RecordingOutbox
) -> None:  # type: ignore[no-untyped-def]
    services = make_services(partners_file=ROOT / "knowledge" / "partners.yaml")
    clock = Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # Tue 09:00 KST
    service = replace_clock(services.scheduling, clock)
    start = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # Tue 8 Dec 09:00 KST = Mon 7 Dec 16:00 PST
    meeting = service.book(
        "Riverton",
        start,
        60,
        "Budget call",
        organizer=Invitee(STAFF, "ko", "Asia/Seoul"),
        invitees=[Invitee(PARTNER, "en", "America/Los_Angeles")],
    )
    services.scheduling = service
    app = App(services, outbox)
    app.send_due_reminders()
    assert outbox.sent == [], "nothing is due a week ahead"

    clock.now = start - timedelta(hours=24)
    app.send_due_reminders()
    partner_note = outbox.to(PARTNER)[0].text
    assert "Budget call" in partner_note and "16:00" in partner_note and "PST" in partner_note
    staff_note = outbox.to(STAFF)[0].text
    assert "09:00" in staff_note and "KST" in staff_note
    assert len(outbox.sent) == 2

    # the bot was down across the 15-minute reminder; a new service instance = a restart
    clock.now = start + timedelta(minutes=5)
    services.scheduling = replace_clock(
        SchedulingService.from_settings(services.settings, services.db), clock
    )
    app = App(services, outbox)
    app.send_due_reminders()
    late = [o for o in outbox.sent[2:] if o.chat_id == PARTNER]
    assert len(late) == 1 and "late" in late[0].text
    app.send_due_reminders()
    assert len(outbox.sent) == 4, "a late reminder is sent once"
    assert meeting.id


def test_reminders_of_a_meeting_that_is_over_are_skipped(
    make_services, outbox: RecordingOutbox
) -> None:  # type: ignore[no-untyped-def]
    services = make_services(partners_file=ROOT / "knowledge" / "partners.yaml")
    clock = Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    services.scheduling = replace_clock(services.scheduling, clock)
    start = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    services.scheduling.book(
        "Riverton", start, 60, "Old call", organizer=Invitee(STAFF, "en", "Asia/Seoul")
    )
    clock.now = start + timedelta(hours=2)
    App(services, outbox).send_due_reminders()
    assert outbox.sent == []


def replace_clock(service: SchedulingService, clock: Clock) -> SchedulingService:
    """Return the same service reading time from the test's clock."""
    service.clock = clock
    return service

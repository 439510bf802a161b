"""Meeting reminders: due ones are sent in each invitee's zone, late ones once, after a restart too."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.core import App
from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from tests.app.conftest import RecordingOutbox
from tests.conftest import ROOT
from tests.storage.races import held_before, race

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


def test_two_processes_send_each_reminder_and_each_repost_once(
    make_services, tmp_path, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    two = [
        make_services(
            tmp_path / f"data{n}",
            database_url=database_url,
            partners_file=ROOT / "knowledge" / "partners.yaml",
            escalation_repost_after_min=60,
            staff_user_ids=[STAFF],
        )
        for n in (1, 2)
    ]
    clock = Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    for services in two:
        replace_clock(services.scheduling, clock)
        services.escalations.clock = clock
    start = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # Tue 10:00 in Hanbit, 09:00 in Darkhan
    for hour in range(3):  # three meetings with two people each: six reminders a day before
        two[0].scheduling.book(
            "Darkhan",
            start + timedelta(hours=hour),
            60,
            f"Call {hour}",
            organizer=Invitee(STAFF, "ko", "Asia/Seoul"),
            invitees=[Invitee(PARTNER, "en", "Asia/Ulaanbaatar")],
        )
    for n in range(3):
        two[0].escalations.escalate(500 + n, 500 + n, f"question {n}", "en", "ungrounded")
    outboxes = [RecordingOutbox(), RecordingOutbox()]
    apps = [App(services, box) for services, box in zip(two, outboxes, strict=True)]
    dbs = [services.db for services in two]

    clock.now = start + timedelta(hours=2) - timedelta(hours=24)  # all three due (two late)
    with held_before(dbs, r"UPDATE meeting_reminders"):
        race(apps[0].send_due_reminders, apps[1].send_due_reminders)
    sent = [o.chat_id for box in outboxes for o in box.sent]
    assert sorted(sent) == sorted([STAFF, PARTNER] * 3), "every reminder once, by one process"

    clock.now += timedelta(hours=2)
    for box in outboxes:
        box.sent.clear()
    with held_before(dbs, r"UPDATE escalations"):
        race(apps[0].repost_stale, apps[1].repost_stale)
    reposts = [o.text for box in outboxes for o in box.sent if "question" in o.text]
    assert len(reposts) == 3, reposts


def replace_clock(service: SchedulingService, clock: Clock) -> SchedulingService:
    """Return the same service reading time from the test's clock."""
    service.clock = clock
    return service


class Killed(BaseException):
    """The process dies in the middle of a send (nothing in the application catches it)."""


class DyingOutbox(RecordingOutbox):
    """Sends `survives` messages, then its process is killed at the next one."""

    def __init__(self, survives: int) -> None:
        super().__init__()
        self.survives = survives

    def send(self, out):  # type: ignore[no-untyped-def]
        if len(self.sent) >= self.survives:
            raise Killed
        return super().send(out)


def test_a_reminder_taken_over_from_a_killed_process_goes_only_to_those_without_it(
    make_services, tmp_path, database_url: str, caplog
) -> None:  # type: ignore[no-untyped-def]
    two = [
        make_services(
            tmp_path / f"data{n}",
            database_url=database_url,
            partners_file=ROOT / "knowledge" / "partners.yaml",
            reminder_lease_s=200,
            process_name=name,
        )
        for n, name in ((1, "a"), (2, "b"))
    ]
    clock = Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    for services in two:
        replace_clock(services.scheduling, clock)
    start = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    meeting = two[0].scheduling.book(
        "Darkhan",
        start,
        60,
        "Call",
        organizer=Invitee(STAFF, "ko", "Asia/Seoul", "Kim Minji"),
        invitees=[
            Invitee(PARTNER, "en", "Asia/Ulaanbaatar", "Bat Erdene"),
            Invitee(PARTNER + 1, "en", "Asia/Ulaanbaatar", "Saran Tuya"),
        ],
    )
    dying, taker = DyingOutbox(survives=1), RecordingOutbox()
    clock.now = start - timedelta(hours=24)
    with pytest.raises(Killed):
        App(two[0], dying).send_due_reminders()  # the organiser got it, then a was killed
    assert [o.chat_id for o in dying.sent] == [STAFF]

    second = App(two[1], taker)
    clock.now += timedelta(seconds=199)
    assert second.send_due_reminders() == 0, "a's hold (REMINDER_LEASE_S=200) still runs"
    clock.now += timedelta(seconds=2)  # a's hold ran out: b takes the reminder over
    with caplog.at_level(logging.INFO, logger="bot.app.meetings"):
        assert second.send_due_reminders() == 1
    assert sorted(o.chat_id for o in taker.sent) == [PARTNER, PARTNER + 1], "not the organiser"
    clock.now += timedelta(hours=1)
    assert second.send_due_reminders() == 0 and App(two[0], taker).send_due_reminders() == 0
    assert len(taker.sent) == 2, "sent is sent"

    lines = [r.getMessage() for r in caplog.records if "reminder" in r.getMessage()]
    assert len(lines) == 1 and f"meeting #{meeting.id}" in lines[0], lines
    assert "2 of 2 invitees reached" in lines[0] and "1 had it" in lines[0], lines
    for personal in (str(STAFF), str(PARTNER), str(PARTNER + 1), "Kim", "Bat", "Saran", "Call"):
        assert personal not in lines[0], f"{personal!r} logged: {lines[0]}"

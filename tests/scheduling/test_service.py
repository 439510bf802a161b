"""SchedulingService: booking rules, cancel, reschedule, video links, reminders and restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.scheduling.models import Invitee
from bot.scheduling.service import (
    BookingRefused,
    InvalidVideoUrl,
    MeetingCancelled,
    MeetingNotFound,
    SchedulingService,
)
from bot.storage.db import Database
from tests.conftest import statements
from tests.scheduling import FakeClock, database, directory, seoul

D = directory()
ORGANIZER = Invitee(1001, "ko", "Asia/Seoul", "Kim Minji")
OFFICIAL = Invitee(2002, "de", "Europe/Berlin", "Anna Schmidt", "anna@duesseldorf.example")
START = seoul(2026, 3, 31, 16)  # Tuesday; 09:00 CEST in Düsseldorf


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(seoul(2026, 3, 18, 10))


@pytest.fixture
def db(database_url: str) -> Database:
    db = database(database_url)
    yield db  # type: ignore[misc]
    db.close()


@pytest.fixture
def service(db: Database, clock: FakeClock) -> SchedulingService:
    return SchedulingService(db, D, clock)


def test_book_stores_the_meeting_with_invitees_and_a_video_room(service: SchedulingService) -> None:
    m = service.book(
        "뒤셀도르프", START, 60, "Budget talk", ORGANIZER, invitees=[OFFICIAL, ORGANIZER]
    )
    assert m.id == 1 and m.partner == "Düsseldorf" and m.title == "Budget talk"
    assert m.start == START and m.end == START + timedelta(hours=1)
    assert m.partner_start.strftime("%H:%M %Z") == "09:00 CEST"
    assert m.organizer == ORGANIZER and m.invitees == (ORGANIZER, OFFICIAL)  # deduplicated
    prefix = "https://meet.jit.si/Hanbit-Dusseldorf-"
    assert (
        m.video_url.startswith(prefix) and len(m.video_url) - len(prefix) >= 22
    )  # 128 random bits
    assert service.get(m.id) == m


def test_video_rooms_are_unguessable_and_a_pasted_link_is_validated(
    service: SchedulingService,
) -> None:
    a = service.book("Düsseldorf", START, 30, "A")
    b = service.book("Düsseldorf", START + timedelta(minutes=30), 30, "B")
    assert a.video_url != b.video_url
    c = service.book(
        "Düsseldorf",
        START + timedelta(hours=1),
        30,
        "C",
        video_url=" https://zoom.example/j/123?pwd=x ",
    )
    assert c.video_url == "https://zoom.example/j/123?pwd=x"
    for bad in ("http://zoom.example/j/1", "zoom.example/j/1", "https://", "javascript:alert(1)"):
        with pytest.raises(InvalidVideoUrl):
            service.book("Düsseldorf", START + timedelta(hours=2), 30, "D", video_url=bad)


def test_video_url_template_is_configurable(db: Database, clock: FakeClock) -> None:
    service = SchedulingService(
        db, D, clock, video_url_template="https://video.city.example/r/{room}"
    )
    assert service.book("Düsseldorf", START, 30, "T").video_url.startswith(
        "https://video.city.example/r/"
    )
    with pytest.raises(ValueError, match="room"):
        SchedulingService(db, D, clock, video_url_template="https://video.example/fixed")


def test_a_refusal_carries_every_reason_and_the_nearest_free_slots(
    service: SchedulingService,
) -> None:
    with pytest.raises(BookingRefused) as err:
        service.book("Düsseldorf", seoul(2026, 3, 24, 16), 60, "Too early in Germany")
    assert err.value.reasons == [
        "outside working hours in Düsseldorf (08:00–09:00 local; working hours 09:00–17:00)"
    ]
    assert [f"{s.start:%m-%d %H:%M}" for s in err.value.nearest] == [
        "03-23 17:00",
        "03-24 17:00",
        "03-25 17:00",
    ]
    assert service.list_upcoming() == []


def test_the_service_words_a_refusal_the_same_for_every_front_end(
    service: SchedulingService,
) -> None:
    assert service.vet("Düsseldorf", START, 60) is None
    early = seoul(2026, 3, 24, 16)  # 08:00 in Düsseldorf
    refused = service.vet("Düsseldorf", early, 60)
    assert refused is not None and [v.rule for v in refused.violations] == ["hours"]
    with pytest.raises(BookingRefused) as err:
        service.book("Düsseldorf", early, 60)
    assert refused.nearest == err.value.nearest
    assert service.refusal(refused, "Düsseldorf", "en") == (
        "That time does not work:\n"
        "• Düsseldorf: outside working hours (08:00–09:00 local; working hours 09:00–17:00)\n\n"
        "The nearest times that work:\n"
        "• Mon Mar 23 17:00–18:00 KST · Mon Mar 23 09:00–10:00 CET\n"
        "• Tue Mar 24 17:00–18:00 KST · Tue Mar 24 09:00–10:00 CET\n"
        "• Wed Mar 25 17:00–18:00 KST · Wed Mar 25 09:00–10:00 CET"
    )
    assert service.refusal(refused, D.get("Düsseldorf"), "de", with_nearest=False) == (
        "Diese Zeit geht nicht:\n"
        "• Düsseldorf: außerhalb der Arbeitszeit (08:00–09:00 Ortszeit; Arbeitszeit 09:00–17:00)"
    )


def test_overlapping_meetings_are_refused_with_any_partner(service: SchedulingService) -> None:
    first = service.book("Bien Hoa", seoul(2026, 3, 31, 15, 30), 60, "Bien Hoa call")
    with pytest.raises(BookingRefused) as err:
        service.book("Düsseldorf", START, 60, "Clash")
    assert [v.rule for v in err.value.violations] == ["overlap"]
    assert f"overlaps meeting #{first.id}" in str(err.value)
    service.book("Düsseldorf", seoul(2026, 3, 31, 16, 30), 60, "Back to back")  # adjacent is fine


def test_past_meetings_are_refused(service: SchedulingService, clock: FakeClock) -> None:
    clock.now = START + timedelta(minutes=1)
    with pytest.raises(BookingRefused, match="in the past"):
        service.book("Düsseldorf", START, 60, "Late")


def test_slots_leave_out_booked_times(service: SchedulingService) -> None:
    from datetime import date

    before = service.slots("Düsseldorf", date(2026, 3, 31), 1, 60)
    assert [f"{s.start:%H:%M}" for s in before] == ["16:00", "16:30", "17:00"]
    service.book("Düsseldorf", START, 60, "Taken")
    assert [f"{s.start:%H:%M}" for s in service.slots("Düsseldorf", date(2026, 3, 31), 1, 60)] == [
        "17:00"
    ]


def test_cancel_frees_the_slot_and_bumps_the_sequence(service: SchedulingService) -> None:
    m = service.book("Düsseldorf", START, 60, "To cancel")
    cancelled = service.cancel(m.id)
    assert cancelled.cancelled and cancelled.sequence == 1 and cancelled.uid == m.uid
    assert service.list_upcoming() == []
    service.book("Düsseldorf", START, 60, "Replacement")
    with pytest.raises(MeetingCancelled):
        service.cancel(m.id)
    with pytest.raises(MeetingNotFound):
        service.cancel(999)


def test_reschedule_keeps_the_uid_and_checks_the_rules_against_other_meetings(
    service: SchedulingService,
) -> None:
    m = service.book("Düsseldorf", START, 60, "Moving")
    other = service.book("Bien Hoa", seoul(2026, 4, 1, 16), 60, "Other")
    moved = service.reschedule(m.id, START + timedelta(minutes=30))  # overlaps its old self only
    assert (
        moved.uid == m.uid and moved.sequence == 1 and moved.start == START + timedelta(minutes=30)
    )
    with pytest.raises(BookingRefused, match=f"overlaps meeting #{other.id}"):
        service.reschedule(m.id, seoul(2026, 4, 1, 16, 30))
    with pytest.raises(BookingRefused, match="Karfreitag"):
        service.reschedule(m.id, seoul(2026, 4, 3, 16))
    assert service.get(m.id).start == START + timedelta(minutes=30)


def test_list_upcoming_is_in_order_and_filters_by_partner(
    service: SchedulingService, clock: FakeClock
) -> None:
    late = service.book("Düsseldorf", START + timedelta(days=1), 60, "Later")
    soon = service.book("Bien Hoa", seoul(2026, 3, 20, 10), 60, "Sooner")
    assert [m.id for m in service.list_upcoming()] == [soon.id, late.id]
    assert [m.id for m in service.list_upcoming("Duesseldorf")] == [late.id]
    clock.now = seoul(2026, 3, 20, 10, 30)  # "Sooner" is under way: still listed until it ends
    assert [m.id for m in service.list_upcoming()] == [soon.id, late.id]
    clock.now = seoul(2026, 3, 20, 11, 0)
    assert [m.id for m in service.list_upcoming()] == [late.id]


# --- reminders ----------------------------------------------------------------------------------


def test_booking_stores_a_reminder_24_hours_and_15_minutes_before(
    service: SchedulingService,
) -> None:
    m = service.book("Düsseldorf", START, 60, "R", ORGANIZER, invitees=[OFFICIAL])
    pending = service.pending_reminders()
    assert [(r.offset, r.due_at, r.late) for r in pending] == [
        (timedelta(hours=24), START - timedelta(hours=24), False),
        (timedelta(minutes=15), START - timedelta(minutes=15), False),
    ]
    assert pending[0].meeting.id == m.id and pending[0].recipients == (ORGANIZER, OFFICIAL)
    assert service.due_reminders() == []


def test_a_meeting_booked_at_short_notice_gets_only_the_reminders_still_ahead(
    service: SchedulingService, clock: FakeClock
) -> None:
    clock.now = START - timedelta(hours=3)
    service.book("Düsseldorf", START, 60, "Soon")
    assert [r.offset for r in service.pending_reminders()] == [timedelta(minutes=15)]


def test_due_reminders_are_sent_once(service: SchedulingService, clock: FakeClock) -> None:
    service.book("Düsseldorf", START, 60, "R")
    clock.now = START - timedelta(hours=24)
    due = service.due_reminders()
    assert [(r.offset, r.late) for r in due] == [(timedelta(hours=24), False)]
    service.mark_reminder_sent(due[0].id)
    assert service.due_reminders() == []
    assert [r.offset for r in service.pending_reminders()] == [timedelta(minutes=15)]


def test_a_claimed_reminder_is_held_and_freed_once_its_claim_ran_out(
    service: SchedulingService, clock: FakeClock
) -> None:
    service.book("Düsseldorf", START, 60, "R")
    clock.now = START - timedelta(hours=24)
    taken = service.claim_due_reminders("a")
    assert [r.offset for r in taken] == [timedelta(hours=24)]
    assert service.claim_due_reminders("b") == [], "held by a, which is sending it"
    clock.now += timedelta(minutes=4)
    service.hold_reminder(taken[0].id, "a")  # a is still at it: its hold is renewed
    clock.now += timedelta(minutes=4)
    assert service.claim_due_reminders("b") == []
    clock.now += timedelta(minutes=2)  # a died: its hold ran out, b takes the reminder
    again = service.claim_due_reminders("b")
    assert [r.id for r in again] == [taken[0].id]
    service.mark_reminder_sent(again[0].id)
    clock.now += timedelta(minutes=10)
    assert service.claim_due_reminders("c") == [], "sent is sent"


def test_a_reminder_taken_over_after_its_lease_ran_out_goes_to_the_invitees_without_it(
    db: Database, clock: FakeClock
) -> None:
    a = SchedulingService(db, D, clock, reminder_lease=timedelta(minutes=3))
    b = SchedulingService(db, D, clock, reminder_lease=timedelta(minutes=3))
    third = Invitee(3003, "de", "Europe/Berlin", "Jonas Weber")
    a.book("Düsseldorf", START, 60, "R", ORGANIZER, invitees=[OFFICIAL, third])
    clock.now = START - timedelta(hours=24)
    taken = a.claim_due_reminders("a")
    assert taken[0].recipients == (ORGANIZER, OFFICIAL, third)
    clock.now += timedelta(minutes=2)
    assert b.claim_due_reminders("b") == [], "held by a, which is sending it"
    a.record_delivery(taken[0].id, ORGANIZER.user_id, "a")  # sent to the organiser, then died
    clock.now += timedelta(minutes=2)
    assert b.claim_due_reminders("b") == [], "4 minutes after the claim: the record renewed it"
    clock.now += timedelta(minutes=2)  # 3 minutes after the record: the lease ran out
    again = b.claim_due_reminders("b")
    assert [r.id for r in again] == [taken[0].id]
    assert again[0].recipients == (OFFICIAL, third), "not the organiser again"
    assert again[0].delivered == {ORGANIZER.user_id}
    b.record_delivery(again[0].id, OFFICIAL.user_id, "b")
    b.record_delivery(again[0].id, OFFICIAL.user_id, "b")  # recorded twice: once it stays
    b.record_delivery(again[0].id, third.user_id, "b")
    b.mark_reminder_sent(again[0].id)
    clock.now += timedelta(minutes=10)
    assert a.claim_due_reminders("a") == [], "sent is sent"
    assert [r.recipients for r in a.pending_reminders()] == [(ORGANIZER, OFFICIAL, third)], (
        "the 15-minute reminder is a reminder of its own: everyone gets it"
    )


def test_reminders_survive_a_restart(db: Database, database_url: str, clock: FakeClock) -> None:
    SchedulingService(db, D, clock).book("Düsseldorf", START, 60, "Persisted", ORGANIZER)
    db.close()
    reopened = database(database_url)
    try:
        restarted = SchedulingService(reopened, D, FakeClock(seoul(2026, 3, 25)))
        pending = restarted.pending_reminders()
        assert [r.due_at for r in pending] == [
            START - timedelta(hours=24),
            START - timedelta(minutes=15),
        ]
        assert all(not r.late for r in pending) and pending[0].meeting.title == "Persisted"
    finally:
        reopened.close()


def test_a_reminder_missed_while_down_is_sent_once_late(db: Database, clock: FakeClock) -> None:
    SchedulingService(db, D, clock).book("Düsseldorf", START, 60, "Missed")
    # the bot was down from before the 24 h reminder until 2 hours before the meeting
    restarted = SchedulingService(db, D, FakeClock(START - timedelta(hours=2)))
    pending = restarted.pending_reminders()
    assert [(r.offset, r.late) for r in pending] == [
        (timedelta(hours=24), True),
        (timedelta(minutes=15), False),
    ]
    due = restarted.due_reminders()
    assert [(r.offset, r.late) for r in due] == [(timedelta(hours=24), True)]
    restarted.mark_reminder_sent(due[0].id)
    again = SchedulingService(db, D, FakeClock(START - timedelta(hours=1)))
    assert again.due_reminders() == []


def test_only_the_latest_of_several_missed_reminders_is_sent(
    db: Database, clock: FakeClock
) -> None:
    SchedulingService(db, D, clock).book("Düsseldorf", START, 60, "Both missed")
    restarted = SchedulingService(
        db, D, FakeClock(START + timedelta(minutes=5))
    )  # meeting under way
    due = restarted.due_reminders()
    assert [(r.offset, r.late) for r in due] == [(timedelta(minutes=15), True)]
    restarted.mark_reminder_sent(due[0].id)
    assert restarted.pending_reminders() == []


def test_reminders_of_a_meeting_that_ended_while_down_are_skipped(
    db: Database, clock: FakeClock
) -> None:
    SchedulingService(db, D, clock).book("Düsseldorf", START, 60, "Over")
    restarted = SchedulingService(db, D, FakeClock(START + timedelta(hours=2)))
    assert restarted.pending_reminders() == []
    assert restarted.due_reminders() == []
    # skipped for good: even a clock turned back does not bring them back
    assert SchedulingService(db, D, clock).pending_reminders() == []


def test_cancel_and_reschedule_replace_the_reminders(
    service: SchedulingService, clock: FakeClock
) -> None:
    m = service.book("Düsseldorf", START, 60, "Moves")
    service.reschedule(m.id, START + timedelta(days=1))
    assert [r.due_at for r in service.pending_reminders()] == [
        START + timedelta(days=1) - timedelta(hours=24),
        START + timedelta(days=1) - timedelta(minutes=15),
    ]
    service.cancel(m.id)
    assert service.pending_reminders() == []
    clock.now = START + timedelta(days=1) - timedelta(minutes=15)
    assert service.due_reminders() == []


def test_reminder_offsets_are_configurable(db: Database, clock: FakeClock) -> None:
    service = SchedulingService(db, D, clock, reminder_offsets=[timedelta(hours=2)])
    service.book("Düsseldorf", START, 60, "One reminder")
    assert [r.offset for r in service.pending_reminders()] == [timedelta(hours=2)]


def test_the_reminder_poll_reads_as_much_for_many_meetings_as_for_one(
    service: SchedulingService, db: Database
) -> None:
    service.book("Düsseldorf", START, 60, "First", ORGANIZER, invitees=[OFFICIAL])
    with statements(db.engine) as one:
        assert len(service.pending_reminders()) == 2
    for day in (1, 2, 7):  # not Good Friday or Easter Monday
        later = START + timedelta(days=day)
        service.book("Düsseldorf", later, 60, f"M{day}", ORGANIZER, invitees=[OFFICIAL])
    with statements(db.engine) as four:
        assert len(service.pending_reminders()) == 8
    assert len(four) == len(one), four

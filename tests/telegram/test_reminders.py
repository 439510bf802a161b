"""Meeting reminders: due ones are sent in each invitee's zone, late ones once, after a restart too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from telegram import Bot

from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from bot.telegram.meetings import send_due_reminders
from tests.conftest import ROOT
from tests.e2e.emulator import BotApiEmulator

STAFF, PARTNER = 100, 300


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_reminders_are_sent_when_due_and_late_ones_once_after_a_restart(
    make_services,
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
    with BotApiEmulator(token="123456:TEST") as emu:
        emu.user(STAFF, "Kim", "ko")
        emu.user(PARTNER, "Dana", "en")
        async with Bot("123456:TEST", base_url=emu.base_url) as bot:
            context = SimpleNamespace(
                bot=bot, application=SimpleNamespace(bot_data={"services": services})
            )
            services.scheduling = service
            await send_due_reminders(context)  # type: ignore[arg-type]
            assert emu.sent == [], "nothing is due a week ahead"

            clock.now = start - timedelta(hours=24)
            await send_due_reminders(context)  # type: ignore[arg-type]
            partner_note = (await emu.await_for(lambda r: r["chat_id"] == PARTNER))["text"]
            assert (
                "Budget call" in partner_note and "16:00" in partner_note and "PST" in partner_note
            )
            staff_note = (await emu.await_for(lambda r: r["chat_id"] == STAFF))["text"]
            assert "09:00" in staff_note and "KST" in staff_note
            assert len(emu.sent) == 2

            # the bot was down across the 15-minute reminder; a new service instance = a restart
            clock.now = start + timedelta(minutes=5)
            services.scheduling = replace_clock(
                SchedulingService.from_settings(services.settings, services.db), clock
            )
            await send_due_reminders(context)  # type: ignore[arg-type]
            late = [r for r in emu.sent[2:] if r["chat_id"] == PARTNER]
            assert len(late) == 1 and "late" in late[0]["text"]
            await send_due_reminders(context)  # type: ignore[arg-type]
            assert len(emu.sent) == 4, "a late reminder is sent once"
    assert meeting.id


async def test_reminders_of_a_meeting_that_is_over_are_skipped(make_services) -> None:  # type: ignore[no-untyped-def]
    services = make_services(partners_file=ROOT / "knowledge" / "partners.yaml")
    clock = Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    services.scheduling = replace_clock(services.scheduling, clock)
    start = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    services.scheduling.book(
        "Riverton", start, 60, "Old call", organizer=Invitee(STAFF, "en", "Asia/Seoul")
    )
    clock.now = start + timedelta(hours=2)
    with BotApiEmulator(token="123456:TEST") as emu:
        emu.user(STAFF)
        async with Bot("123456:TEST", base_url=emu.base_url) as bot:
            context = SimpleNamespace(
                bot=bot, application=SimpleNamespace(bot_data={"services": services})
            )
            await send_due_reminders(context)  # type: ignore[arg-type]
            assert emu.sent == []


def replace_clock(service: SchedulingService, clock: Clock) -> SchedulingService:
    """Return the same service reading time from the test's clock."""
    service.clock = clock
    return service

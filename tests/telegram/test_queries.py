"""Handlers read the database a fixed number of times, however many webinars, partners or invitees.

Each test runs a real handler against the Bot API emulator, counts the SQL statements it sends
(an SQLAlchemy `before_cursor_execute` listener) with few rows and with many, and wants the same
count: one query per row would grow with the rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Bot, Update

from bot.accounts.service import AccountService
from bot.followup.webinars import WebinarService
from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from bot.storage.db import Database
from bot.telegram.meetings import _book, send_invites
from bot.telegram.webinars import webinar_command
from tests.conftest import statements
from tests.e2e.emulator import BotApiEmulator
from tests.scheduling import FakeClock, directory, seoul

TOKEN = "123456:TEST"
STAFF, ADMIN = 100, 1
START = seoul(2026, 3, 31, 16)  # Tuesday; 09:00 CEST in Düsseldorf


@dataclass
class Harness:
    emu: BotApiEmulator
    bot: Bot
    db: Database
    services: Any

    def context(self, *args: str) -> Any:
        return SimpleNamespace(
            bot=self.bot,
            application=SimpleNamespace(bot_data={"services": self.services}),
            args=list(args),
        )

    def update(self, user: int, text: str) -> Update:
        """Return the update of a message the user sends (queued in the emulator, not polled)."""
        self.emu.send_text(user, text)
        update = Update.de_json(self.emu.pending_updates()[-1], self.bot)
        assert update is not None
        return update


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    db = open_database(f"sqlite:///{tmp_path}/bot.sqlite3")
    services = SimpleNamespace(
        accounts=AccountService(db, [STAFF], [ADMIN]),
        webinars=WebinarService(db),
        scheduling=SchedulingService(db, directory(), FakeClock(seoul(2026, 3, 18, 10))),
    )
    services.accounts.touch(STAFF, "Kim", "", "en")
    with BotApiEmulator(token=TOKEN) as emu:
        emu.user(STAFF, "Kim", "en")
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            yield Harness(emu, bot, db, services)
    db.close()


async def test_webinar_list_counts_every_webinars_attendees_in_one_query(
    harness: Harness,
) -> None:
    webinars: WebinarService = harness.services.webinars

    async def listing() -> tuple[list[str], int]:
        update = harness.update(STAFF, "/webinar list")
        mark = harness.emu.mark()
        with statements(harness.db.engine) as sent:
            await webinar_command(update, harness.context("list"))
        reply = await harness.emu.await_for(lambda r: r["chat_id"] == STAFF, since=mark)
        return reply["text"].splitlines(), len(sent)

    first = webinars.create("Forum 1", date(2026, 11, 1), "en", STAFF)
    webinars.register(1000, first.code, "en")
    lines, few = await listing()
    assert [line.rsplit(" · ", 1)[1] for line in lines] == ["1"]

    for n in range(2, 6):  # four more webinars, with 2, 3, 4 and 5 attendees
        code = webinars.create(f"Forum {n}", date(2026, 11, n), "en", STAFF).code
        for user in range(n):
            webinars.register(1000 * n + user, code, "en")
    webinars.create("Forum 0", date(2026, 10, 1), "en", STAFF)  # nobody came
    lines, many = await listing()
    assert [line.rsplit(" · ", 1)[1] for line in lines] == ["5", "4", "3", "2", "1", "0"]
    assert many == few, "one query per webinar"


def _selects(sent: list[str]) -> int:
    return sum(q.lstrip().upper().startswith("SELECT") for q in sent)


async def test_booking_reads_the_partner_officials_and_their_languages_in_one_query(
    harness: Harness,
) -> None:
    accounts: AccountService = harness.services.accounts
    scheduling: SchedulingService = harness.services.scheduling
    organizer = accounts.person(STAFF)

    def official(user: int, language: str) -> None:
        accounts.redeem(accounts.create_invite("Düsseldorf", ADMIN).code, user)
        accounts.set_language(user, language)

    def book(start_hour: int) -> tuple[list[tuple[int, str, str]], int]:
        start = START.replace(hour=start_hour)
        with statements(harness.db.engine) as sent:
            meeting = _book(harness.context(), scheduling, organizer, "Düsseldorf", start, 30, "T")
        invited = [(i.user_id, i.language, i.timezone) for i in meeting.invitees[1:]]
        return invited, _selects(sent)

    official(2001, "de")
    accounts.redeem(accounts.create_invite("Bien Hoa", ADMIN).code, 3001)  # another city's
    invited, few = book(16)
    assert invited == [(2001, "de", "Europe/Berlin")]
    for user, language in ((2002, "en"), (2003, "ko"), (2004, "vi")):
        official(user, language)
    invited, many = book(17)
    assert sorted(invited) == [
        (2001, "de", "Europe/Berlin"),
        (2002, "en", "Europe/Berlin"),
        (2003, "ko", "Europe/Berlin"),
        (2004, "vi", "Europe/Berlin"),
    ]
    assert many == few, "one query per partner official"


async def test_invites_are_built_from_the_booked_meeting_without_reading_it_again(
    harness: Harness,
) -> None:
    scheduling: SchedulingService = harness.services.scheduling
    zones = ["Europe/Berlin", "Asia/Seoul", "America/Los_Angeles", "Asia/Ho_Chi_Minh"]
    invitees = [Invitee(2001 + n, "en", zone) for n, zone in enumerate(zones)]
    for invitee in invitees:
        harness.emu.user(invitee.user_id)
    meeting = scheduling.book("Düsseldorf", START, 60, "Budget talk", invitees=invitees)
    mark = harness.emu.mark()
    with statements(harness.db.engine) as sent:
        await send_invites(harness.context(), scheduling, meeting, "meet_invite")
    assert sent == [], "the meeting is read once, by whoever booked it, not once per invitee"
    documents = [r for r in harness.emu.sent[mark:] if r["method"] == "sendDocument"]
    assert [d["chat_id"] for d in documents] == [i.user_id for i in invitees]
    for document, zone in zip(documents, zones, strict=True):
        assert f"TZID={zone}".encode() in document["document"].replace(b"\r\n ", b"")

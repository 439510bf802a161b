"""Use cases read the database a fixed number of times, however many webinars, partners or invitees.

Each test runs a real use case, counts the SQL statements it sends (an SQLAlchemy
`before_cursor_execute` listener) with few rows and with many, and wants the same count: one
query per row would grow with the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from bot.accounts.service import AccountService
from bot.app.core import App
from bot.app.messages import Actor
from bot.followup.webinars import WebinarService
from bot.office import Office
from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from bot.storage.db import Database
from tests.app.conftest import RecordingOutbox
from tests.conftest import statements
from tests.scheduling import FakeClock, directory, seoul

STAFF, ADMIN = 100, 1
START = seoul(2026, 3, 31, 16)  # Tuesday; 09:00 CEST in Düsseldorf


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()


@pytest.fixture
def app(db: Database, outbox: RecordingOutbox) -> App:
    services: Any = SimpleNamespace(
        db=db,
        accounts=AccountService(db, [STAFF], [ADMIN]),
        webinars=WebinarService(db),
        scheduling=SchedulingService(db, directory(), FakeClock(seoul(2026, 3, 18, 10))),
        office=Office(),
    )
    services.accounts.touch(STAFF, "Kim", "", "en")
    return App(services, outbox)


def test_webinar_list_counts_every_webinars_attendees_in_one_query(app: App, db: Database) -> None:
    webinars: WebinarService = app.services.webinars

    def listing() -> tuple[list[str], int]:
        with statements(db.engine) as sent:
            reply = app.command(Actor(STAFF, STAFF), "webinar", "list")
        return reply.messages[0].text.splitlines(), len(sent)

    first = webinars.create("Forum 1", date(2026, 11, 1), "en", STAFF)
    webinars.register(1000, first.code, "en")
    lines, few = listing()
    assert [line.rsplit(" · ", 1)[1] for line in lines] == ["1"]

    for n in range(2, 6):  # four more webinars, with 2, 3, 4 and 5 attendees
        code = webinars.create(f"Forum {n}", date(2026, 11, n), "en", STAFF).code
        for user in range(n):
            webinars.register(1000 * n + user, code, "en")
    webinars.create("Forum 0", date(2026, 10, 1), "en", STAFF)  # nobody came
    lines, many = listing()
    assert [line.rsplit(" · ", 1)[1] for line in lines] == ["5", "4", "3", "2", "1", "0"]
    assert many == few, "one query per webinar"


def _selects(sent: list[str]) -> int:
    return sum(q.lstrip().upper().startswith("SELECT") for q in sent)


def test_booking_reads_the_partner_officials_and_their_languages_in_one_query(
    app: App, db: Database
) -> None:
    accounts: AccountService = app.services.accounts
    organizer = accounts.person(STAFF)

    def official(user: int, language: str) -> None:
        accounts.redeem(accounts.create_invite("Düsseldorf", ADMIN).code, user)
        accounts.set_language(user, language)

    def book(start_hour: int) -> tuple[list[tuple[int, str, str]], int]:
        start = START.replace(hour=start_hour)
        with statements(db.engine) as sent:
            meeting = app.meetings.book(organizer, "Düsseldorf", start, 30, "T")
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


def test_invites_are_built_from_the_booked_meeting_without_reading_it_again(
    app: App, db: Database, outbox: RecordingOutbox
) -> None:
    scheduling: SchedulingService = app.services.scheduling
    zones = ["Europe/Berlin", "Asia/Seoul", "America/Los_Angeles", "Asia/Ho_Chi_Minh"]
    invitees = [Invitee(2001 + n, "en", zone) for n, zone in enumerate(zones)]
    meeting = scheduling.book("Düsseldorf", START, 60, "Budget talk", invitees=invitees)
    with statements(db.engine) as sent:
        app.meetings.send_invites(meeting, "meet_invite")
    assert sent == [], "the meeting is read once, by whoever booked it, not once per invitee"
    assert [o.chat_id for o in outbox.sent] == [i.user_id for i in invitees]
    for out, zone in zip(outbox.sent, zones, strict=True):
        assert out.file is not None
        assert f"TZID={zone}".encode() in out.file.content.replace(b"\r\n ", b"")

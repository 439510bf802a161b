"""Two processes sharing one database (two Database objects here) never both win one thing.

Each test holds both racers just before the statement that writes, after whatever each read
first: today's check-then-write code loses these races; claims and constraints do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.accounts.service import AccountService, InviteError
from bot.domain import Role
from bot.ratelimit import SharedRateLimiter
from bot.scheduling.service import BookingRefused, SchedulingService
from bot.schema import open_database
from bot.storage.db import Database
from tests.scheduling import FakeClock, directory, seoul
from tests.storage.races import held_before, race

START = seoul(2026, 3, 31, 16)  # a Tuesday, inside both cities' working hours


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Database, Database]]:
    """Two Database objects on one database, as two processes have."""
    first = open_database(database_url)
    second = Database(database_url)
    yield first, second
    first.close()
    second.close()


def test_a_new_users_first_two_updates_in_two_processes_make_one_user(
    two: tuple[Database, Database],
) -> None:
    a, b = (AccountService(db, [100], [1]) for db in two)
    with held_before(two, r"INSERT INTO users"):
        results = race(lambda: a.touch(500, "Ann"), lambda: b.touch(500, "Ann"))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert a.person(500).role is Role.PUBLIC


def test_two_redemptions_of_one_invite_at_once_give_one_partner_and_one_refusal(
    two: tuple[Database, Database],
) -> None:
    a, b = (AccountService(db, [100], [1]) for db in two)
    code = a.create_invite("Riverton", 1).code
    with held_before(two, r"UPDATE invites"):
        results = race(lambda: a.redeem(code, 300), lambda: b.redeem(code, 301))
    cities = [r for r in results if r == "Riverton"]
    refused = [r for r in results if isinstance(r, InviteError)]
    assert len(cities) == 1 and len(refused) == 1, results
    assert refused[0].reason == "invite_used", "the same refusal as one after the other"
    roles = {a.person(300).role, a.person(301).role}
    assert roles == {Role.PARTNER, Role.PUBLIC}


def test_two_overlapping_bookings_at_once_give_one_meeting(two: tuple[Database, Database]) -> None:
    clock = FakeClock(seoul(2026, 3, 18, 10))
    a, b = (SchedulingService(db, directory(), clock) for db in two)
    with held_before(two, r"INSERT INTO meetings"):
        results = race(
            lambda: a.book("Düsseldorf", START, 60, "First"),
            lambda: b.book("Düsseldorf", START + timedelta(minutes=30), 60, "Second"),
        )
    refused = [r for r in results if isinstance(r, BookingRefused)]
    assert len(refused) == 1, results
    assert [v.rule for v in refused[0].violations] == ["overlap"]
    assert refused[0].nearest, "the loser is offered the nearest free slots, as usual"
    assert len(a.list_upcoming()) == 1


def test_a_move_onto_a_meeting_booked_at_the_same_moment_is_refused(
    two: tuple[Database, Database],
) -> None:
    clock = FakeClock(seoul(2026, 3, 18, 10))
    a, b = (SchedulingService(db, directory(), clock) for db in two)
    moved = a.book("Düsseldorf", START + timedelta(days=1), 60, "Moved")
    with held_before(two, r"INSERT INTO meetings|UPDATE meetings"):
        results = race(
            lambda: a.book("Düsseldorf", START, 60, "Booked"),
            lambda: b.reschedule(moved.id, START),
        )
    assert len([r for r in results if isinstance(r, BookingRefused)]) == 1, results
    starts = [m.start for m in a.list_upcoming()]
    assert starts.count(START) == 1, "one meeting holds the time, the loser is where it was"


def test_every_process_counts_a_sender_against_one_shared_limit(
    two: tuple[Database, Database],
) -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    a, b = (SharedRateLimiter(db, 3, 60, clock=lambda: now[0]) for db in two)
    assert [a.check(7), b.check(7), a.check(7)] == [0.0, 0.0, 0.0]
    assert b.check(7) == pytest.approx(60.0), "the fourth question, in another process"
    assert a.check(8) == 0.0
    now[0] += timedelta(seconds=30)
    assert a.check(7) == pytest.approx(30.0)
    assert [b.told(7), a.told(7), b.told(7)] == [False, True, True], "one notice per window"
    now[0] += timedelta(seconds=61)
    assert b.check(7) == 0.0 and not a.told(7), "a new window"


def test_two_processes_checking_one_sender_at_once_count_both(
    two: tuple[Database, Database],
) -> None:
    a, b = (SharedRateLimiter(db, 1, 60) for db in two)
    with held_before(two, r"INSERT INTO rate_keys"):
        waits = race(lambda: a.check(7), lambda: b.check(7))
    assert sorted(w > 0 for w in waits) == [False, True], waits  # type: ignore[operator]


class _PgError(Exception):
    """What psycopg raises, as far as the service reads it: the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_a_booking_cancelled_as_a_deadlock_gets_the_overlap_refusal(
    two: tuple[Database, Database],
) -> None:
    # Two overlapping rows inserted at the same instant can each wait on the other in the
    # exclusion constraint's check; PostgreSQL then cancels one as a deadlock (40P01) instead of
    # refusing it by the constraint (seen once in a full run of the race above). The window is
    # too narrow to hold open from here, so the error is raised where the INSERT would raise it.
    from sqlalchemy.exc import OperationalError

    a = SchedulingService(two[0], directory(), FakeClock(seoul(2026, 3, 18, 10)))
    city, length = a.directory.get("Düsseldorf"), timedelta(minutes=60)
    with pytest.raises(BookingRefused) as refused, a._overlap_refused(city, START, length):
        raise OperationalError("INSERT INTO meetings", {}, _PgError("40P01"))
    assert [v.rule for v in refused.value.violations] == ["overlap"]
    # any other failure of the database stays one
    with pytest.raises(OperationalError), a._overlap_refused(city, START, length):
        raise OperationalError("INSERT INTO meetings", {}, _PgError("57P01"))

"""How many SQL statements the per-update paths send (real SQLite and PostgreSQL): each is a
round trip and, on SQLite, time under the one write lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.ratelimit import SharedRateLimiter
from bot.schema import open_database
from bot.storage.db import Database
from tests.conftest import statements


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    yield opened
    opened.close()


def _sent(sql: list[str]) -> list[str]:
    return [s.split()[0].upper() for s in sql if s.split()[0].upper() not in {"BEGIN", "COMMIT"}]


def test_a_rate_limit_check_takes_two_statements_and_a_refusal_three(db: Database) -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    limiter = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    with statements(db.engine) as first:
        assert limiter.check(7) == 0.0  # a new sender; the process's first check also sweeps
    with statements(db.engine) as second:
        assert limiter.check(7) == 0.0  # a known one
    assert _sent(first) == ["DELETE", "INSERT", "INSERT"]
    assert _sent(second) == ["INSERT", "INSERT"], "no DELETE of old events at every check"
    now[0] += timedelta(seconds=20)
    with statements(db.engine) as refused:
        assert limiter.check(7) == pytest.approx(40.0)
    assert _sent(refused) == ["INSERT", "INSERT", "SELECT"]
    now[0] += timedelta(seconds=41)  # both events are out of the window
    with statements(db.engine) as later:
        assert limiter.check(7) == 0.0  # a window after the last sweep: this one sweeps
    assert _sent(later) == ["DELETE", "INSERT", "INSERT"]
    assert limiter.check(7) == 0.0
    assert limiter.check(7) == pytest.approx(60.0)
    assert limiter.check(8) == 0.0, "another sender is counted on its own"


def test_events_out_of_the_window_not_yet_swept_are_not_counted(db: Database) -> None:
    from sqlalchemy import func, select

    from bot.ratelimit import RateEventRow

    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    sweeper = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    assert sweeper.check(7) == 0.0 and sweeper.check(7) == 0.0
    now[0] += timedelta(seconds=59)
    # another process, which swept a second ago: the two events stay in the table
    other = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    assert other.sweep() == 0
    now[0] += timedelta(seconds=2)  # both events are 61 s old, neither forgotten yet
    other._swept = now[0] - timedelta(seconds=1)
    with statements(db.engine) as sql:
        assert other.check(7) == 0.0 and other.check(7) == 0.0
    assert "DELETE" not in _sent(sql)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RateEventRow)) == 4
    with statements(db.engine) as sql:
        assert other.check(7) == pytest.approx(60.0), "the two in the window count, not the old"
    assert "DELETE" not in _sent(sql)
    assert other.check(8) == 0.0
    # a window after its last sweep, a process forgets every key's old events at once
    now[0] += timedelta(seconds=60)
    assert other.sweep() == 5 and other.sweep() == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RateEventRow)) == 0


def test_a_users_touch_is_one_statement_and_keeps_what_it_knew(db: Database) -> None:
    from bot.accounts.service import AccountService
    from bot.domain import Role

    accounts = AccountService(db, [100], [1])
    with statements(db.engine) as new:
        ann = accounts.touch(500, "Ann", "ann", "de")
    assert _sent(new) == ["INSERT"]
    assert ann.role is Role.PUBLIC and ann.language == "de"
    code = accounts.create_invite("Riverton", 1).code
    assert accounts.redeem(code, 500) == "Riverton"
    accounts.set_language(500, "vi")
    with statements(db.engine) as known:
        again = accounts.touch(500, "Anna", "", "en")
    assert _sent(known) == ["INSERT"]
    # the partner city and the chosen language stay; the name and Telegram's language change
    assert again.role is Role.PARTNER and again.partner == "Riverton" and again.language == "vi"
    assert accounts.touch(100, "Sam").role is Role.STAFF

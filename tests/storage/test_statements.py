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


def test_a_rate_limit_check_takes_three_statements_and_a_refusal_four(db: Database) -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    limiter = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    with statements(db.engine) as first:
        assert limiter.check(7) == 0.0  # a new sender
    with statements(db.engine) as second:
        assert limiter.check(7) == 0.0  # a known one
    assert _sent(first) == _sent(second) == ["INSERT", "DELETE", "INSERT"]
    now[0] += timedelta(seconds=20)
    with statements(db.engine) as refused:
        assert limiter.check(7) == pytest.approx(40.0)
    assert _sent(refused) == ["INSERT", "DELETE", "INSERT", "SELECT"]
    now[0] += timedelta(seconds=41)  # both events are out of the window
    assert limiter.check(7) == 0.0 and limiter.check(7) == 0.0
    assert limiter.check(7) == pytest.approx(60.0)
    assert limiter.check(8) == 0.0, "another sender is counted on its own"


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

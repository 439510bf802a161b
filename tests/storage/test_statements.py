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

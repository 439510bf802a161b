"""The per-update statements are built once per process and run with bound values (real SQLite
and PostgreSQL): building and hashing a statement again for every update was most of the
Python of a rate-limit check and of a claim. Counted (statement constructions), not timed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import bot.ratelimit
import bot.storage.inbox
from bot.ratelimit import SharedRateLimiter
from bot.schema import open_database
from bot.storage.db import Database
from bot.storage.inbox import Inbox


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    yield opened
    opened.close()


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, names: list[str]) -> list[str]:
    """Count the statements `module` builds through its `select`, `insert`, `update`, `delete`."""
    built: list[str] = []
    for name in names:
        original: Callable[..., Any] = getattr(module, name)

        def counted(*args: Any, _original: Callable[..., Any] = original, _name: str = name) -> Any:
            built.append(_name)
            return _original(*args)

        monkeypatch.setattr(module, name, counted)
    return built


def test_a_rate_limit_check_builds_no_statement_after_the_first(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _counting(monkeypatch, bot.ratelimit, ["select", "insert", "update", "delete"])
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    limiter = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    assert limiter.check(7) == 0.0
    assert built, "the first check builds the statements"
    built.clear()
    assert limiter.check(7) == 0.0 and limiter.check(8) == 0.0
    now[0] += timedelta(seconds=10)
    assert limiter.check(7) == pytest.approx(50.0)  # a refusal, with its earliest event's time
    assert built == [], "checks after the first build nothing"
    other = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    assert other.check(7) == pytest.approx(50.0), "another process counts the same events"


def test_a_claim_and_its_done_build_no_statement_after_the_first(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _counting(monkeypatch, bot.storage.inbox, ["select", "update", "aliased"])
    inbox = Inbox(db, 42)
    for update_id, sender in [(1, 500), (2, 500), (3, 600)]:
        inbox.store(update_id, {"update_id": update_id}, sender)
    first = inbox.claim("p", 8)
    assert [b["update_id"] for b in first] == [1, 3], "one sender's second waits for its first"
    assert built, "the first claim builds the statements"
    built.clear()
    assert inbox.claim("p", 8, done=[1]) == [{"update_id": 2}]
    inbox.done_many([2, 3])
    inbox.done(2)
    assert inbox.claim("p", 8) == []
    assert built == [], "claims and dones after the first build nothing"
    assert inbox.pending() == []

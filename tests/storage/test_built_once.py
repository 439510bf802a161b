"""The per-update statements are built once per process and run with bound values (real SQLite
and PostgreSQL): building and hashing a statement again for every update was most of the
Python of a rate-limit check, a claim, a user's touch, the answer log and an escalation.
Counted (statement constructions), not timed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Delete, Insert, Select, Update, event

import bot.ratelimit
import bot.storage.inbox
from bot.accounts.models import UserRow
from bot.accounts.service import AccountService, Person
from bot.domain import Answer, Asker, Citation, Role, Visibility
from bot.followup.escalation import EscalationError, EscalationService, Reason
from bot.followup.feedback import FeedbackService, QuestionRow
from bot.followup.webinars import WebinarService
from bot.ratelimit import SharedRateLimiter
from bot.schema import open_database
from bot.storage.db import Database, built_insert, built_upsert
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


@pytest.fixture
def constructed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every SELECT, INSERT, UPDATE and DELETE constructed anywhere (the ORM's own
    included), whatever module builds it; clauses cloned from a built one are not counted.
    The shared statements of bot/storage/db.py are built once per process: forgotten first, so
    that what a test's first call builds does not depend on the tests run before it."""
    built_upsert.cache_clear()
    built_insert.cache_clear()
    built: list[str] = []
    for kind in (Select, Insert, Update, Delete):
        original: Callable[..., Any] = kind.__init__

        def counted(
            self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any
        ) -> None:
            built.append(type(self).__name__)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(kind, "__init__", counted)
    return built


def _answer(question: str) -> Answer:
    cited = Citation(
        1,
        "a.md",
        "A",
        "Part > Terms",
        "The agreement is reviewed yearly.",
        0.9,
        Visibility.PUBLIC,
        "a:1",
    )
    return Answer(question, "Yearly [1].", (cited,), True, "en")


def test_a_users_touch_and_lookup_build_no_statement_after_the_first(
    db: Database, constructed: list[str]
) -> None:
    accounts = AccountService(db, staff_ids=[5], admin_ids=[])
    first = accounts.touch(900, "Ann", "ann", "de")
    assert first == Person(900, Role.PUBLIC, None, "de", False)
    assert accounts.person(5).role is Role.STAFF
    assert constructed, "the first touch builds the statement"
    constructed.clear()
    again = accounts.touch(900, "Anna", "", "en-US")  # the same row, updated
    assert again == Person(900, Role.PUBLIC, None, "en", False)
    assert accounts.touch(901).language == "en"
    assert accounts.person(900).language == "en" and accounts.person(5).role is Role.STAFF
    assert accounts.person(902) == Person(902, Role.PUBLIC, None, "en", False), "never met"
    assert constructed == [], "touches and lookups after the first build nothing"
    with db.session() as s:
        row = s.get(UserRow, 900)
        assert row is not None
        assert (row.first_name, row.username, row.telegram_language) == ("Anna", "", "en-US")
        assert row.first_seen < row.last_seen or row.first_seen == row.last_seen
        assert s.get(UserRow, 902) is None, "a lookup makes no row"


def test_the_answer_log_is_one_insert_built_once_not_an_orm_flush(
    db: Database, constructed: list[str]
) -> None:
    flushed: list[object] = []

    def on_insert(*_: object) -> None:
        flushed.append(1)

    event.listen(QuestionRow, "before_insert", on_insert)
    try:
        feedback = FeedbackService(db)
        asker = Asker(Role.PARTNER, partner="Riverton")
        first = feedback.log(900, 900, asker, _answer("How often is it reviewed?"))
        constructed.clear()
        second = feedback.log(900, -100, Asker(Role.PUBLIC), _answer("And then?"))
        assert constructed == [], "answers logged after the first build nothing"
    finally:
        event.remove(QuestionRow, "before_insert", on_insert)
    assert flushed == [], "not the ORM's add and flush"
    assert second == first + 1
    logged = feedback.last_answer(900, 900)
    assert logged is not None and logged.id == first
    assert logged.sources == [
        {
            "n": 1,
            "source": "a.md",
            "title": "A",
            "heading": "Terms",
            "text": "The agreement is reviewed yearly.",
        }
    ]
    row = feedback.get(second)
    assert row is not None and (row.role, row.partner, row.chat_id) == ("public", None, -100)
    assert row.created_at.tzinfo is not None and row.vote is None
    assert feedback.vote(second, 900, 1) is True


def test_the_webinar_check_builds_no_statement_after_the_first(
    db: Database, constructed: list[str]
) -> None:
    webinars = WebinarService(db)
    assert webinars.attendee_asker(900) == (None, False)
    webinar = webinars.create("Forum", date(2026, 12, 3), "en", created_by=5)
    webinars.register(900, webinar.code, "en")
    constructed.clear()
    assert webinars.attendee_asker(900) == (Asker(Role.ATTENDEE, webinar=webinar.code), False)
    assert webinars.attendee_asker(901) == (None, False)
    assert constructed == [], "checks after the first build nothing"


def test_an_escalation_and_its_posts_build_no_statement_after_the_first(
    db: Database, constructed: list[str]
) -> None:
    queue = EscalationService(db)
    first = queue.escalate(900, 900, "Who pays?", "en", Reason.UNGROUNDED)
    queue.record_post(first.id, 5, 1)
    constructed.clear()
    item = queue.escalate(901, -100, "Wer zahlt?", "de", Reason.UNGROUNDED, in_group=True)
    queue.record_post(item.id, 5, 2)
    queue.record_post(item.id, 6, 2)
    assert constructed == [], "escalations and posts after the first build nothing"
    assert item.is_new and item.posts == () and item.in_group and item.status == "open"
    assert (item.user_id, item.chat_id, item.language, item.reason) == (
        901,
        -100,
        "de",
        "ungrounded",
    )
    assert item.id == first.id + 1 and item.created_at.tzinfo is not None
    shown = queue.find_by_post(6, 2)
    assert shown is not None and shown.id == item.id and shown.posts == ((5, 2), (6, 2))
    queue.record_post(first.id, 6, 2)  # a message id seen again points at the item it shows now
    moved = queue.find_by_post(6, 2)
    assert moved is not None and moved.id == first.id
    with pytest.raises(EscalationError):
        queue.record_post(item.id + 10, 5, 3)

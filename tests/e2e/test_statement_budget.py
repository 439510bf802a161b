"""What an answered question costs the database, counted in the real Telegram application (in
process, against the Bot API emulator; real SQLite and PostgreSQL, real models): a long poll's
batch is stored in one transaction before the next getUpdates confirms it, and an answered
update takes at most a fixed number of statements."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.services import Services, build_services
from bot.storage.inbox import Inbox
from tests.conftest import make_settings
from tests.e2e.emulator import BotApiEmulator
from tests.e2e.inprocess import RunningBot, tally
from tests.e2e.test_bot import (  # noqa: F401 (fixture)
    ADMIN,
    DATABASES,
    DOCS,
    STAFF,
    TOKEN,
    data_dir,
)

QUESTION = "How often is the Riverton agreement reviewed?"
USERS = list(range(7300, 7312))
# per answered update, all of it: the inbox (store, claim, done), the user's touch, the rate
# limit (2), the webinar check, the answer log; 11.5-13 before the chunk cache and the batched
# store, about 8.5 with them and a rate limit of 3
BUDGET = 9.0
# what a starting process and its periodic jobs send, whatever the updates
NOT_PER_UPDATE = (
    "storage/inbox.py:prune",
    "storage/inbox.py:adopt",
    "scheduling/service.py:_settle",
    "scheduling/service.py:due_reminders",
    "storage/flows.py:prune",
    "storage/flows.py:stale",
    "(outside bot/)",
)


@pytest.fixture
def services(data_dir: Path, embedder, analyzer) -> Iterator[Services]:  # type: ignore[no-untyped-def]  # noqa: F811
    built = build_services(
        make_settings(
            data_dir,
            database_url=DATABASES[data_dir],
            telegram_bot_token=TOKEN,
            staff_user_ids=[STAFF],
            admin_user_ids=[ADMIN],
            rate_limit_questions=1000,
        ),
        embedder=embedder,
        analyzer=analyzer,
    )
    yield built
    built.close()


def _answered(emu: BotApiEmulator, since: int) -> set[int]:
    return {
        int(r["chat_id"])
        for r in emu.sent[since:]
        if r["method"] == "sendMessage" and r.get("reply_markup")
    }


def _wait_answered(emu: BotApiEmulator, since: int, users: list[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _answered(emu, since) != set(users) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _answered(emu, since) == set(users), f"unanswered: {set(users) - _answered(emu, since)}"


def _bot(services: Services, emu: BotApiEmulator) -> RunningBot:
    services.settings.telegram_api_base_url = emu.base_url
    services.settings.telegram_api_file_url = emu.base_file_url
    return RunningBot(services)


def test_an_answered_update_takes_at_most_the_budget_and_a_batch_is_stored_at_once(
    services: Services,
) -> None:
    with BotApiEmulator(token=TOKEN, bot_username="budget_bot", max_poll_timeout=1.0) as emu:
        for uid in USERS:
            emu.user(uid, f"U{uid}", "en")
        with _bot(services, emu):
            since = emu.mark()
            for uid in USERS:  # the users are known, the question's chunks were read once
                emu.send_text(uid, QUESTION)
            _wait_answered(emu, since, USERS)
        # the next burst waits for the bot: one getUpdates returns it whole
        for uid in USERS:
            emu.send_text(uid, QUESTION)
        since = emu.mark()
        with tally(services.db.engine) as counted, _bot(services, emu):
            _wait_answered(emu, since, USERS)
            time.sleep(0.5)  # the last updates' done
        assert emu.updates_confirmed()
    per_answer = counted.total(exclude=NOT_PER_UPDATE)[0] / len(USERS)
    assert per_answer <= BUDGET, (per_answer, counted.statements)
    assert counted.statements["inbox: store"] == 1, "the batch in one statement"
    assert counted.commits["inbox: store"] == 1
    assert counted.statements["chunks read"] == 0, "the same passages again: from the cache"
    assert counted.statements["inbox: done"] <= len(USERS)
    assert counted.commits["inbox: done"] == 0, "with the claims"
    assert counted.statements["flow check"] == 0, "public users open no /meet"
    # the key's row and the conditional INSERT; old events are forgotten once a window
    assert counted.statements["rate limit"] == 2 * len(USERS), counted.statements


def test_a_polled_batch_is_not_confirmed_before_it_is_stored(
    services: Services,
    data_dir: Path,  # noqa: F811
) -> None:
    url = DATABASES[data_dir]
    users = USERS[:3]
    with BotApiEmulator(token=TOKEN, bot_username="budget_bot", max_poll_timeout=1.0) as emu:
        for uid in users:
            emu.user(uid, f"U{uid}", "en")
        with _bot(services, emu):
            release = threading.Event()
            locked = threading.Event()
            holder = threading.Thread(target=_hold_inbox, args=(url, locked, release), daemon=True)
            holder.start()
            assert locked.wait(10)
            since = emu.mark()
            try:
                for uid in users:
                    emu.send_text(uid, QUESTION)
                time.sleep(2.0)  # fetched, but the inbox cannot be written
                assert emu.pending_updates(), "confirmed to Telegram before it was stored"
                assert not _answered(emu, since)
            finally:
                release.set()
                holder.join(10)
            _wait_answered(emu, since, users)
            assert emu.updates_confirmed()
    stored = Inbox(services.db, int(TOKEN.split(":")[0]))
    assert stored.pending() == []


def _hold_inbox(url: str, locked: threading.Event, release: threading.Event) -> None:
    """Hold a write lock on the inbox (another process's long transaction) until released."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        locked.set()
        release.wait(30)
        connection.execute("ROLLBACK")
        connection.close()
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text("LOCK TABLE inbox IN EXCLUSIVE MODE"))
        locked.set()
        release.wait(30)
        connection.rollback()
    engine.dispose()


def test_a_batch_stored_again_stores_only_the_new_updates(
    tmp_path: Path, database_url: str
) -> None:
    from bot.schema import open_database

    db = open_database(database_url)
    try:
        inbox = Inbox(db, 42)
        body = {"update_id": 1, "message": {"text": "hi"}}
        assert inbox.store_many([(1, body, 7), (2, {**body, "update_id": 2}, 8)]) == {1, 2}
        assert inbox.store_many([(2, body, 8), (3, {**body, "update_id": 3}, 7)]) == {3}
        assert [b["update_id"] for b in inbox.pending()] == [1, 2, 3]
        assert inbox.store(3, body, 7) is False
        claimed = inbox.claim("me", 10)
        assert [b["update_id"] for b in claimed] == [1, 2], "7's second waits for its first"
    finally:
        db.close()

"""The inbox keeps each update once, hands back the unhandled ones and forgets old handled ones."""

from __future__ import annotations

from datetime import timedelta

from bot.schema import open_database
from bot.storage.db import Database, utcnow
from bot.storage.inbox import LEASE, MAX_ATTEMPTS, NO_BOT, Inbox, InboxRow
from tests.storage.races import held_before, race

BOT = 123456  # the bot's id: its token's public part before ':'


def test_an_update_is_stored_once_and_pending_until_done(database_url: str) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, BOT, keep=timedelta(0))
    assert inbox.store(10, {"update_id": 10}) and inbox.store(11, {"update_id": 11})
    assert not inbox.store(10, {"update_id": 10}), "Telegram delivering it again"
    inbox.done(10)
    assert inbox.pending() == [{"update_id": 11}]
    assert inbox.prune() == 1 and inbox.pending() == [{"update_id": 11}]
    db.close()


def body(update_id: int, sender: int) -> dict[str, object]:
    return {"update_id": update_id, "from": sender}


def test_two_processes_claiming_at_once_get_each_update_once(database_url: str) -> None:
    first = open_database(database_url)
    second = Database(database_url)
    inbox = Inbox(first, BOT)
    for n in range(1, 21):
        inbox.store(n, body(n, 1000 + n), sender=1000 + n)  # twenty senders, one update each
    with held_before([first, second], r"UPDATE inbox"):
        got = race(
            lambda: Inbox(first, BOT).claim(first.owner, 15),
            lambda: Inbox(second, BOT).claim(second.owner, 15),
        )
    ids = [b["update_id"] for claimed in got for b in claimed]  # type: ignore[attr-defined]
    assert sorted(ids) == list(range(1, 21)), "each update claimed by exactly one process"
    first.close()
    second.close()


def test_one_senders_updates_are_claimed_one_at_a_time_in_order(database_url: str) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, BOT)
    for n, sender in ((1, 7), (2, 7), (3, 8), (4, 7)):
        inbox.store(n, body(n, sender), sender=sender)
    assert [b["update_id"] for b in inbox.claim("a", 10)] == [1, 3]
    assert inbox.claim("b", 10) == [], "7's second update waits while its first is in hand"
    inbox.done(1)
    assert [b["update_id"] for b in inbox.claim("b", 10)] == [2]
    inbox.done(2)
    inbox.done(3)
    assert [b["update_id"] for b in inbox.claim("a", 10)] == [4]
    db.close()


def test_a_claim_whose_process_died_is_taken_by_another_once_its_lease_ran_out(
    database_url: str,
) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, BOT)
    inbox.store(1, body(1, 7), sender=7)
    inbox.store(2, body(2, 7), sender=7)
    now = utcnow()
    assert [b["update_id"] for b in inbox.claim("dead", 10, LEASE, now)] == [1]
    assert inbox.claim("alive", 10, LEASE, now + LEASE / 2) == [], "the lease holds"
    later = now + LEASE + timedelta(seconds=1)
    assert [b["update_id"] for b in inbox.claim("alive", 10, LEASE, later)] == [1]
    assert inbox.renew("dead", [1]) == 0, "the dead process holds nothing any more"
    assert inbox.renew("alive", [1]) == 1
    inbox.done(1)
    assert [b["update_id"] for b in inbox.claim("alive", 10, LEASE, later)] == [2]
    db.close()


def test_an_update_that_kills_every_process_handling_it_is_given_up(database_url: str) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, BOT)
    inbox.store(1, body(1, 7), sender=7)
    inbox.store(2, body(2, 7), sender=7)
    now = utcnow()
    for attempt in range(MAX_ATTEMPTS):
        at = now + attempt * (LEASE + timedelta(seconds=1))
        assert [b["update_id"] for b in inbox.claim("p", 10, LEASE, at)] == [1]
    at = now + MAX_ATTEMPTS * (LEASE + timedelta(seconds=1))
    assert [b["update_id"] for b in inbox.claim("p", 10, LEASE, at)] == []
    assert [b["update_id"] for b in inbox.claim("p", 10, LEASE, at)] == [2], "the sender goes on"
    db.close()


def test_updates_claimed_but_not_begun_are_given_back_on_stopping(database_url: str) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, BOT)
    inbox.store(1, body(1, 7), sender=7)
    assert inbox.claim("stopping", 10)
    inbox.release("stopping", [1])
    assert [b["update_id"] for b in inbox.claim("other", 10)] == [1]
    db.close()


def test_two_bots_on_one_database_each_claim_only_their_own_updates(database_url: str) -> None:
    db = open_database(database_url)
    mine, theirs = Inbox(db, BOT), Inbox(db, 654321)
    # each bot counts its update ids itself: the same id at both is two updates
    assert mine.store(1, body(1, 7), sender=7) and theirs.store(1, {"update_id": 1, "b": 2}, 7)
    assert theirs.store(2, {"update_id": 2, "b": 2}, sender=7)
    assert not theirs.store(2, {"update_id": 2}, sender=7), "theirs, delivered again"
    assert mine.claim("a", 10) == [body(1, 7)], "not the other bot's update 1 (nor its 2)"
    assert [b["update_id"] for b in theirs.claim("b", 10)] == [1], "its own; 7's next waits"
    mine.done(1)
    assert mine.pending() == [] and [b["update_id"] for b in theirs.pending()] == [1, 2]
    assert theirs.claim("b", 10) == [], "7's first update at the other bot is not done yet"
    theirs.done(1)
    assert [b["update_id"] for b in theirs.claim("b", 10)] == [2]
    db.close()


def test_updates_stored_before_the_inbox_was_per_bot_go_to_the_first_bot_to_start(
    database_url: str,
) -> None:
    db = open_database(database_url)
    with db.session() as s:  # what migration 0012 makes of the rows stored before it
        s.add_all(InboxRow(bot_id=NO_BOT, update_id=n, body=body(n, 7), sender=7) for n in (5, 6))
    first, second = Inbox(db, BOT), Inbox(db, 654321)
    assert first.claim("a", 10) == [] and second.claim("b", 10) == [], "nobody's until adopted"
    assert first.adopt() == 2 and second.adopt() == 0, "taken over once, by the first to start"
    assert [b["update_id"] for b in first.claim("a", 10)] == [5]
    assert second.claim("b", 10) == []
    db.close()

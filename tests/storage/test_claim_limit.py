"""A claim takes at most `limit` updates (real SQLite and PostgreSQL): a process holds no more
than it has room for, and the rest stay for the other processes."""

from __future__ import annotations

from bot.schema import open_database
from bot.storage.db import Database
from bot.storage.inbox import Inbox


def test_a_claim_takes_no_more_than_its_limit_and_another_claimant_gets_the_rest(
    database_url: str,
) -> None:
    first, second = open_database(database_url), Database(database_url)
    try:
        inbox = Inbox(first, 5)
        for n in range(1, 21):
            inbox.store(n, {"update_id": n}, 100 + n)  # 20 senders, one update each
        got = [b["update_id"] for b in inbox.claim("a", 8)]
        assert got == list(range(1, 9))
        other = [b["update_id"] for b in Inbox(second, 5).claim("b", 8)]
        assert other == list(range(9, 17))
        assert [b["update_id"] for b in inbox.claim("a", 100)] == list(range(17, 21))
    finally:
        first.close()
        second.close()

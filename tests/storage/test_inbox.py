"""The inbox keeps each update once, hands back the unhandled ones and forgets old handled ones."""

from __future__ import annotations

from datetime import timedelta

from bot.schema import open_database
from bot.storage.inbox import Inbox


def test_an_update_is_stored_once_and_pending_until_done(database_url: str) -> None:
    db = open_database(database_url)
    inbox = Inbox(db, keep=timedelta(0))
    assert inbox.store(10, {"update_id": 10}) and inbox.store(11, {"update_id": 11})
    assert not inbox.store(10, {"update_id": 10}), "Telegram delivering it again"
    inbox.done(10)
    assert inbox.pending() == [{"update_id": 11}]
    assert inbox.prune() == 1 and inbox.pending() == [{"update_id": 11}]
    db.close()

"""PTB's update queue on the shared inbox: two processes (two queues on one database) at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram import Update

from bot.schema import open_database
from bot.storage.db import Database
from bot.storage.inbox import Inbox
from bot.telegram.inbox import InboxQueue

BOT = 123456  # the bot's id: its token's public part before ':'


def update(update_id: int, sender: int) -> Update:
    user = {"id": sender, "is_bot": False, "first_name": "A"}
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": sender, "type": "private"},
        "from": user,
        "text": "hi",
    }
    made = Update.de_json({"update_id": update_id, "message": message}, None)  # type: ignore[arg-type]
    assert made is not None
    return made


async def taken(queue: InboxQueue, count: int, timeout: float) -> list[int]:
    """Return the ids of the next `count` updates the queue hands PTB, within `timeout`."""
    got: list[int] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            item = await asyncio.Queue.get(queue)
            assert isinstance(item, Update)
            got.append(item.update_id)
    return got


def test_a_killed_processs_updates_go_to_another_once_its_leases_ran_out(
    database_url: str,
) -> None:
    first, second = open_database(database_url), Database(database_url)
    lease = timedelta(seconds=1)

    async def run() -> None:
        killed = InboxQueue(Inbox(first, BOT), lease=lease, poll_s=0.05)
        other = InboxQueue(Inbox(second, BOT), lease=lease, poll_s=0.05)
        for n, sender in ((1, 7), (2, 8), (3, 7)):
            await killed.put(update(n, sender))  # stored: nothing queued before it is claimed
        assert killed.empty()
        killed.start(None)  # type: ignore[arg-type]
        assert await taken(killed, 2, 5) == [1, 2], "7's second update waits for its first"
        other.start(None)  # type: ignore[arg-type]
        await asyncio.sleep(2.5)  # the first process is alive: it renews its leases
        assert other.empty(), "held by a live process"
        await killed.stop_claiming()  # killed: it renews nothing any more, marks nothing done
        assert sorted(await taken(other, 2, 5)) == [1, 2], "taken over once the leases ran out"
        for n in (1, 2):
            await other.done(update(n, 0))
        assert await taken(other, 1, 5) == [3], "7's next update, now that its first is done"
        await other.done(update(3, 0))
        await other.stop_claiming()

    asyncio.run(run())
    assert Inbox(first, BOT).pending() == []
    first.close()
    second.close()

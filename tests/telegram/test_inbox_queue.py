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


def test_a_full_queue_claims_again_once_a_few_are_done_not_after_each(
    database_url: str,
) -> None:
    db = open_database(database_url)

    async def run() -> None:
        queue = InboxQueue(Inbox(db, BOT), poll_s=0.05, capacity=8, refill=4)
        claims: list[int] = []
        real = queue.inbox.claim

        def counting(owner: str, limit: int, *args: object, **kwargs: object) -> object:
            claims.append(limit)
            return real(owner, limit, *args, **kwargs)  # type: ignore[arg-type]

        queue.inbox.claim = counting  # type: ignore[method-assign, assignment]
        for n in range(1, 21):
            await queue.put(update(n, 100 + n))  # 20 senders, one update each
        queue.start(None)  # type: ignore[arg-type]
        assert await taken(queue, 8, 5) == list(range(1, 9))
        await asyncio.sleep(0.3)  # polls while full: no claim
        before = len(claims)
        for n in (1, 2, 3):
            await queue.done(update(n, 0))
        await asyncio.sleep(0.3)
        assert len(claims) == before, "5 of 8 still in hand: no claim yet"
        assert queue.empty(), (claims, queue.qsize(), sorted(queue._in_hand))
        await queue.done(update(4, 0))
        assert await taken(queue, 4, 5) == [9, 10, 11, 12], "room for 4: claimed at once"
        assert claims[-1] == 4
        # below half the capacity, every update done is followed by a claim, as before
        for n in range(5, 21):
            if n <= 12:
                await queue.done(update(n, 0))
            else:
                assert await taken(queue, 1, 5) == [n]
                await queue.done(update(n, 0))
        await queue.stop_claiming()

    asyncio.run(run())
    assert Inbox(db, BOT).pending() == []
    db.close()

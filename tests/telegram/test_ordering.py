"""One sender's updates are handled in order; different senders' at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.telegram.ordering import PerSenderUpdateProcessor


def _update(update_id: int, user_id: int) -> Update:
    user = User(user_id, "someone", is_bot=False)
    chat = Chat(user_id, Chat.PRIVATE)
    message = Message(update_id, datetime.now(UTC), chat, from_user=user, text="hi")
    return Update(update_id, message=message)


async def _run(updates: list[Update]) -> list[str]:
    processor = PerSenderUpdateProcessor(16)
    events: list[str] = []

    async def handle(update: Update, pause: float) -> None:
        events.append(f"start {update.update_id}")
        await asyncio.sleep(pause)
        events.append(f"end {update.update_id}")

    await processor.initialize()
    # the first update is slow (a handler that sends something, then stores it)
    await asyncio.gather(
        *(
            processor.process_update(u, handle(u, 0.2 if i == 0 else 0.0))
            for i, u in enumerate(updates)
        )
    )
    await processor.shutdown()
    assert not processor._locks and not processor._waiting, "senders are forgotten when idle"
    return events


def test_a_senders_next_update_waits_for_the_one_before() -> None:
    events = asyncio.run(_run([_update(1, 7), _update(2, 7)]))
    assert events == ["start 1", "end 1", "start 2", "end 2"]


def test_other_senders_are_not_held_up() -> None:
    events = asyncio.run(_run([_update(1, 7), _update(2, 8)]))
    assert events.index("end 2") < events.index("end 1")


def test_one_senders_backlog_holds_one_slot_and_leaves_the_rest_to_others() -> None:
    async def scenario() -> tuple[float, int]:
        processor = PerSenderUpdateProcessor(4)
        loop = asyncio.get_running_loop()
        most = 0

        async def slow() -> None:
            nonlocal most
            most = max(most, processor.current_concurrent_updates)
            await asyncio.sleep(0.05)

        flood = [
            asyncio.create_task(processor.process_update(_update(i, 7), slow()))
            for i in range(1, 41)
        ]
        await asyncio.sleep(0.01)  # the flood is queued: 40 updates of one sender
        started = loop.time()
        await processor.process_update(_update(99, 8), asyncio.sleep(0))
        other = loop.time() - started
        await asyncio.gather(*flood)
        return other, most

    other, most = asyncio.run(scenario())
    # before: the flood's waiting updates held all four slots and the other sender waited for
    # the whole backlog (about 40 x 0.05 s); now it waits for nothing
    assert other < 0.05
    assert most == 1, "the flooding sender ran one update at a time in one slot"


def test_a_senders_backlog_beyond_the_bound_is_dropped() -> None:
    async def scenario() -> list[int]:
        processor = PerSenderUpdateProcessor(4, max_backlog=3)
        ran: list[int] = []
        gate = asyncio.Event()

        async def handle(n: int) -> None:
            await gate.wait()
            ran.append(n)

        tasks = [
            asyncio.create_task(processor.process_update(_update(i, 7), handle(i)))
            for i in range(1, 7)
        ]
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*tasks)
        assert not processor._locks and not processor._waiting and not processor._dropping
        return ran

    assert asyncio.run(scenario()) == [1, 2, 3]

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

"""The Telegram send budget: a "typing" hint never waits for it, nor makes an answer wait."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.telegram.app import HintsGiveWay


def test_a_typing_hint_is_left_out_while_the_budget_has_no_room() -> None:
    async def run() -> list[str]:
        limiter = HintsGiveWay(overall_max_rate=2, overall_time_period=1)
        sent: list[str] = []

        async def call(endpoint: str) -> dict[str, Any]:
            sent.append(endpoint)
            return {"sent": endpoint}

        async def request(endpoint: str) -> Any:
            data = {"chat_id": 5}
            return await limiter.process_request(call, (endpoint,), {}, endpoint, data, None)

        assert await request("sendChatAction") == {"sent": "sendChatAction"}  # room: sent
        await request("sendMessage")  # the budget of 2 is used up
        answer = asyncio.create_task(request("sendMessage"))  # waits for room
        await asyncio.sleep(0.01)
        assert await request("sendChatAction") is True  # left out: it would wait, and come late
        assert await answer == {"sent": "sendMessage"}
        return sent

    assert asyncio.run(run()) == ["sendChatAction", "sendMessage", "sendMessage"]


def test_a_typing_hint_in_a_group_is_left_out_when_the_group_budget_is_used_up() -> None:
    async def run() -> list[str]:
        limiter = HintsGiveWay(group_max_rate=1, group_time_period=60)
        sent: list[str] = []

        async def call(endpoint: str) -> bool:
            sent.append(endpoint)
            return True

        async def request(endpoint: str, chat_id: int) -> Any:
            data = {"chat_id": chat_id}
            return await limiter.process_request(call, (endpoint,), {}, endpoint, data, None)

        await request("sendMessage", -100)  # the group's one message a minute
        assert await request("sendChatAction", -100) is True
        await request("sendChatAction", 7)  # a private chat has room
        return sent

    assert asyncio.run(run()) == ["sendMessage", "sendChatAction"]

"""Answers per second that the Telegram send budget alone allows (no retrieval, no CPU to speak of).

200 updates take the bot's 16 slots; each fires its "typing" hint as `handlers.text` does, works
40 ms, then sends its answer and, for 43 of the 200 (the share `bot_load.py`'s questions are not
answered and go to the office), a post to each of two staff members (the notice that the office
has the question is in the answer's message since 2026-12-01; `--notice` sends it on its own, as
before).
Every request goes through PTB's AIORateLimiter (30 requests/s to chats) as before, then through
the bot's HintsGiveWay. Usage: `python benchmarks/send_budget.py`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.ext import AIORateLimiter  # noqa: E402

from bot.telegram.app import HintsGiveWay  # noqa: E402


async def run(limiter: AIORateLimiter, notice: bool) -> None:
    """Send the 200 answers through the limiter and print how fast they went out."""
    sent = {"sendChatAction": 0, "sendMessage": 0}

    async def call(endpoint: str) -> bool:
        sent[endpoint] += 1
        await asyncio.sleep(0.002)
        return True

    async def req(endpoint: str, chat: int) -> Any:
        return await limiter.process_request(
            call, (endpoint,), {}, endpoint, {"chat_id": chat}, None
        )

    slots = asyncio.Semaphore(16)
    hints: list[asyncio.Task[Any]] = []

    async def update(i: int) -> None:
        async with slots:
            hints.append(asyncio.create_task(req("sendChatAction", 1000 + i % 40)))
            await asyncio.sleep(0.04)
            await req("sendMessage", 1000 + i % 40)
            if i % 200 < 43:
                if notice:
                    await req("sendMessage", 1000 + i % 40)
                await req("sendMessage", 1)
                await req("sendMessage", 2)

    t = time.perf_counter()
    await asyncio.gather(*(update(i) for i in range(200)))
    s = time.perf_counter() - t
    await asyncio.gather(*hints)
    print(
        f"{type(limiter).__name__}{' (notice apart)' if notice else ''}: 200 answers in {s:.1f} s = {200 / s:.1f} answers/s; requests {sent}"
    )


if __name__ == "__main__":
    apart = "--notice" in sys.argv
    for cls in (AIORateLimiter, HintsGiveWay):
        asyncio.run(run(cls(max_retries=3), apart))

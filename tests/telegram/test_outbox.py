"""What the outbox sends: a caption shortened before escaping, an over-long text split."""

from __future__ import annotations

import asyncio
import html
from types import SimpleNamespace
from typing import Any

from bot.app.messages import Button, File, Out
from bot.telegram.outbox import send


class FakeBot:
    """Records the Bot API calls `send` makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def _record(self, method: str, **params: Any) -> SimpleNamespace:
        self.calls.append((method, params))
        return SimpleNamespace(message_id=len(self.calls))

    async def send_message(self, chat_id: int, text: str, **params: Any) -> SimpleNamespace:
        return await self._record("sendMessage", text=text, **params)

    async def send_document(self, chat_id: int, document: bytes, **params: Any) -> SimpleNamespace:
        return await self._record("sendDocument", **params)


def test_a_caption_of_escapable_characters_is_counted_before_escaping() -> None:
    bot = FakeBot()
    text = "Invitation: " + "&" * 200 + "\n09:00 PDT\nVideo: https://meet.jit.si/x"
    asyncio.run(send(bot, 7, Out(text, file=File("m.ics", b"BEGIN:VCALENDAR"))))  # type: ignore[arg-type]
    caption = bot.calls[0][1]["caption"]
    assert html.unescape(caption) == text, "nothing cut: Telegram counts the parsed caption"


def test_a_caption_too_long_even_parsed_is_shortened_at_a_word_not_inside_an_escape() -> None:
    bot = FakeBot()
    text = "&lt; " * 400  # 2,000 characters, 3,600 once escaped
    asyncio.run(send(bot, 7, Out(text, file=File("m.ics", b"x"))))  # type: ignore[arg-type]
    caption = html.unescape(bot.calls[0][1]["caption"])
    assert len(caption) <= 1024 and caption.endswith("…")
    assert caption.removesuffix("…").endswith("&lt;"), "cut between words"


def test_an_over_long_text_goes_in_several_messages_with_its_buttons_under_the_last() -> None:
    bot = FakeBot()
    text = "\n\n".join(f"Part {i}. " + "budget " * 400 for i in range(3))
    out = Out(text, buttons=[[Button("Retry", "esc:retry:1")]])
    sent = asyncio.run(send(bot, 7, out))  # type: ignore[arg-type]
    assert [m for m, _ in bot.calls] == ["sendMessage"] * 3 and sent.message_id == 3
    assert [p["reply_markup"] is not None for _, p in bot.calls] == [False, False, True]
    assert all(len(html.unescape(p["text"])) <= 4096 for _, p in bot.calls)

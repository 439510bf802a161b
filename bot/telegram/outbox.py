"""The application's outbox and file source on Telegram: sends from worker threads via the loop."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from bot.app.messages import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Button,
    Out,
    Undeliverable,
    shorten,
    split_text,
)
from bot.config import SEND_TIMEOUT_S  # a 429 waited out by the rate limiter included


def markup(rows: Any) -> InlineKeyboardMarkup | None:
    """Return the inline keyboard of a message's buttons (None without buttons)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


def keyboard(out: Out) -> InlineKeyboardMarkup | ForceReply | None:
    """Return what goes under a message: its buttons, or a reply prompt."""
    if out.force_reply:
        return ForceReply(selective=True)
    return markup(out.buttons)


async def send(bot: Bot, chat_id: int, out: Out) -> Message:
    """Send one plain message or file to a chat; return the (last) message sent.

    The application composes its messages within the limits; should one still be longer, a
    text is split over messages (its buttons under the last) and a caption is shortened, both
    at a word and before escaping, so no cut falls inside an escape such as `&amp;`.
    """
    if out.file is not None:
        caption = html.escape(shorten(out.text, CAPTION_LIMIT)) or None
        if out.file.photo:
            return await bot.send_photo(
                chat_id,
                out.file.content,
                caption=caption,
                parse_mode=ParseMode.HTML,
                filename=out.file.name,
            )
        return await bot.send_document(
            chat_id,
            out.file.content,
            filename=out.file.name,
            caption=caption,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(out),
        )
    pieces = split_text(out.text, TEXT_LIMIT)
    for i, piece in enumerate(pieces):
        message = await bot.send_message(
            chat_id,
            html.escape(piece),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(out) if i == len(pieces) - 1 else None,
            disable_web_page_preview=True,
        )
    return message


class TelegramOutbox:
    """Sends the application's messages to other chats; called from worker threads."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the application runs

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self.loop is not None, "the outbox is used before the application started"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(SEND_TIMEOUT_S)

    def send(self, out: Out) -> int:
        """Send a message to `out.chat_id` and return its id, or raise Undeliverable."""
        assert out.chat_id is not None
        try:
            message: Message = self._run(send(self.bot, out.chat_id, out))
        except Forbidden as exc:
            raise Undeliverable(out.chat_id, blocked=True, reason=str(exc)) from None
        except TelegramError as exc:
            raise Undeliverable(out.chat_id, reason=str(exc)) from None
        return message.message_id

    def fetch(self, file_id: str, target: Path) -> None:
        """Download a file a person sent to `target`."""

        async def download() -> None:
            file = await self.bot.get_file(file_id)
            await file.download_to_drive(target)

        self._run(download())


__all__ = ["Button", "TelegramOutbox", "keyboard", "markup", "send"]

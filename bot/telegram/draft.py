"""An answer shown on Telegram while it is written: one message sent, then edited as it grows."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.app.messages import TEXT_LIMIT, split_text

log = logging.getLogger(__name__)

# Telegram allows about 20 messages a minute into one group, edits included
GROUP_INTERVAL_S = 3.0
WRITING = " …"  # after the text while the model is still writing


class TelegramDraft:
    """The application's Draft on Telegram: shows the answer written so far in one message
    (more, should it outgrow 4,096 characters), sent at the first text and then edited, at
    most once per `interval` seconds; what arrives meanwhile is shown by the next edit.

    `write` is called from the use case's worker thread and never waits for Telegram; the
    sends and edits run on the event loop through the bot, so the rate limiter paces them too.
    """

    def __init__(
        self,
        bot: Bot,
        loop: asyncio.AbstractEventLoop,
        chat_id: int,
        reply_to: Message | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.loop = loop
        self.chat_id = chat_id
        self.reply_to = reply_to
        self.interval = interval
        self.clock = clock
        self.ids: list[int] = []  # the messages of the draft, in order
        self._pieces: list[str] = []  # what each of them shows
        self._latest = ""
        self._written = ""
        self._last = float("-inf")  # when the last send or edit went out
        self._pumping = False
        self._closed = False
        self._future: concurrent.futures.Future[None] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the use case's side

    def write(self, text: str) -> None:
        """Take the answer written so far; show it by the next send or edit."""
        with self._lock:
            if self._closed:
                return
            self._latest = text
            if self._pumping:
                return
            self._pumping = True
            self._future = asyncio.run_coroutine_threadsafe(self._pump(), self.loop)

    # ------------------------------------------------------------ the event loop's side

    async def _pump(self) -> None:
        """Show the latest text until it is shown, pacing the edits."""
        try:
            while True:
                await self._pace()
                with self._lock:
                    text = self._latest
                    if self._closed or text == self._written:
                        self._pumping = False
                        return
                pieces = [html.escape(p) for p in split_text(text + WRITING, TEXT_LIMIT)]
                await self._show(pieces)
                self._written = text
        except Exception:  # a draft is a courtesy: the finished answer still goes out
            log.warning("showing a draft answer in chat %s failed", self.chat_id, exc_info=True)
            with self._lock:
                self._pumping = False

    async def _pace(self) -> None:
        wait = self._last + self.interval - self.clock()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _show(self, pieces: list[str]) -> None:
        for i, piece in enumerate(pieces):
            if i < len(self._pieces) and self._pieces[i] == piece:
                continue
            if i > 0:
                await self._pace()
            if i < len(self.ids):
                await self._edit(self.ids[i], piece, None)
                self._pieces[i] = piece
            else:
                sent = await self._send(piece, None)
                self.ids.append(sent.message_id)
                self._pieces.append(piece)

    async def _send(self, body: str, markup: InlineKeyboardMarkup | None) -> Message:
        self._last = self.clock()
        options: dict[str, Any] = {
            "parse_mode": ParseMode.HTML,
            "reply_markup": markup,
            "disable_web_page_preview": True,
        }
        try:
            if self.reply_to is not None:  # as the finished answer would be (quoted in groups)
                return await self.reply_to.reply_text(
                    body, allow_sending_without_reply=True, **options
                )
            return await self.bot.send_message(self.chat_id, body, **options)
        finally:
            self._last = self.clock()

    async def _edit(self, message_id: int, body: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Edit one message of the draft; False when it is gone (deleted meanwhile)."""
        self._last = self.clock()
        try:
            await self.bot.edit_message_text(
                body,
                chat_id=self.chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            log.info("a draft message in chat %s could not be edited: %s", self.chat_id, exc)
            return False
        finally:
            self._last = self.clock()
        return True

    async def close(self) -> None:
        """Stop showing new text and wait for a send or edit under way."""
        with self._lock:
            self._closed = True
            future = self._future
        if future is not None:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(future)

    async def finish(self, bodies: list[str], markup: Any) -> bool:
        """Turn the draft into the finished answer's messages (`markup` under the last).

        Return False when nothing was shown: the caller sends the answer as any other.
        """
        await self.close()
        if not self.ids:
            return False
        for i, body in enumerate(bodies):
            under = markup if i == len(bodies) - 1 else None
            await self._pace()
            if i < len(self.ids):
                try:
                    if await self._edit(self.ids[i], body, under):
                        continue
                except TelegramError as exc:
                    log.info("a draft in chat %s could not be finished: %s", self.chat_id, exc)
            await self._send(body, under)
        for extra in self.ids[len(bodies) :]:  # the draft ran longer than the finished answer
            with contextlib.suppress(TelegramError):
                await self.bot.delete_message(self.chat_id, extra)
        return True

"""PTB's update queue backed by the inbox: an update is stored before Telegram hears it arrived.

The long-polling Updater puts each fetched update on this queue before its next getUpdates
confirms them, and the webhook handler puts it before answering 200; `put` stores it first. The
update processor marks it done once handled; at start, what a killed process left is queued again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application

from bot.storage.inbox import Inbox

log = logging.getLogger(__name__)


class InboxQueue(asyncio.Queue[object]):
    """An update queue that stores each update in the inbox before queueing it."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        """Store an update, then queue it; an update stored before (delivered again) is dropped."""
        if isinstance(item, Update):
            body = item.to_dict()
            if not await asyncio.to_thread(self.inbox.store, item.update_id, body):
                log.info("update %s was received before: not queued again", item.update_id)
                return
        await super().put(item)

    async def requeue_pending(self, bot: Bot) -> int:
        """Queue the updates a previous run received but did not handle; return how many."""
        bodies: list[dict[str, Any]] = await asyncio.to_thread(self.inbox.pending)
        for body in bodies:
            update = Update.de_json(body, bot)
            if update is not None:
                await super().put(update)
        if bodies:
            log.info("%d updates received before a restart are handled now", len(bodies))
        return len(bodies)

    async def done(self, update: object) -> None:
        """Mark an update handled (whatever its handler did: an error is not retried forever)."""
        if isinstance(update, Update):
            await asyncio.to_thread(self.inbox.done, update.update_id)


class InboxApplication(Application):
    """PTB's Application that marks each update done in the inbox once it was handled."""

    async def process_update(self, update: object) -> None:
        """Handle an update, then mark it done (also when a handler failed: not retried forever)."""
        try:
            await super().process_update(update)
        finally:
            queue = self.update_queue
            if isinstance(queue, InboxQueue):
                await queue.done(update)

"""PTB's update queue backed by the shared inbox: stored first, then claimed, handled, marked done.

The long-polling Updater puts each fetched update on this queue before its next getUpdates
confirms them, and the webhook handler puts it before answering 200; `put` stores it in the
inbox and nothing more. A claim loop takes updates from the inbox, whichever process stored
them, as many as this process has room for, and queues them for PTB's update processor; the
application marks each one done once handled. While updates are in hand their leases are renewed;
a process killed mid-answer stops renewing, and once the leases run out another process (or this
one, restarted) claims them. One sender's updates are claimed one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.storage.inbox import HANDLING, Inbox

log = logging.getLogger(__name__)

IN_HAND = 32  # updates one process holds at most (twice its update slots: none wait idle long)


class InboxQueue(asyncio.Queue[object]):
    """An update queue that stores each update in the inbox and queues what it claims there."""

    def __init__(
        self,
        inbox: Inbox,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        poll_s: float = 0.5,
        capacity: int = IN_HAND,
        refill: int | None = None,
    ) -> None:
        super().__init__()
        self.inbox = inbox
        self.owner = owner or inbox.db.owner
        self.lease = lease
        self.poll_s = poll_s
        self.capacity = capacity
        # while at least half the capacity is in hand (the update slots have work waiting), a
        # claim waits until this much room is free: one claim per few updates done in a burst,
        # not one per update (each is a write transaction over the inbox's pending rows)
        self.refill = max(1, capacity // 4 if refill is None else refill)
        self._in_hand: set[int] = set()  # claimed by this process and not done
        self._started: set[int] = set()  # of those, the ones a handler has begun
        self._wake = asyncio.Event()
        # long polling: updates received and not stored yet, stored before the next getUpdates
        self.store_before_confirming = False
        self._received: list[Update] = []
        self._storing = asyncio.Lock()
        # handled updates the claim loop is to mark done (with its next claim), and their waiters
        self._handled: list[tuple[int, asyncio.Future[None]]] = []
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None

    async def put(self, item: object) -> None:
        """Store an update (the claim loop queues it); anything else is queued as it is.

        With `store_before_confirming` (long polling), an update is only noted here and stored
        with the rest of its getUpdates batch, in one transaction, by `store_received`, which
        the next getUpdates (the one that confirms the batch to Telegram) awaits first.
        """
        if not isinstance(item, Update):
            await super().put(item)  # PTB's own signals
            return
        if self.store_before_confirming:
            self._received.append(item)
            return
        stored = await asyncio.to_thread(
            self.inbox.store, item.update_id, item.to_dict(), _sender(item)
        )
        if not stored:
            log.info("update %s was received before: not stored again", item.update_id)
        self._wake.set()

    async def store_received(self) -> None:
        """Store the updates long polling received since the last call, in one transaction.

        Called before each getUpdates (`StoreBeforeConfirming`): the offset it sends confirms
        them to Telegram, so it is sent only once they are stored; if storing fails the request
        fails with them still noted, and PTB's retry of the request stores them again first.
        """
        async with self._storing:
            batch = list(self._received)
            if not batch:
                return
            stored = await asyncio.to_thread(
                self.inbox.store_many, [(u.update_id, u.to_dict(), _sender(u)) for u in batch]
            )
            del self._received[: len(batch)]
            again = [u.update_id for u in batch if u.update_id not in stored]
            if again:
                log.info("updates %s were received before: not stored again", again)
            self._wake.set()

    def start(self, bot: Bot) -> None:
        """Start claiming (also what a killed process left, once its leases ran out)."""
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._claim_loop(bot), name="inbox-claims")

    async def stop_claiming(self) -> None:
        """Stop claiming more updates; those in hand are still handled and marked done."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            # told, not cancelled: Python 3.11's wait_for can lose a cancellation that comes
            # as its wait ends, and the loop would go on claiming
            self._stopping = True
            self._wake.set()
            await task

    async def release(self) -> None:
        """Give back what was claimed but never begun, for another process to take at once."""
        unstarted = sorted(self._in_hand - self._started)
        if unstarted:
            await asyncio.to_thread(self.inbox.release, self.owner, unstarted)
            log.info("%d claimed updates given back unhandled", len(unstarted))

    async def begin(self, update: object) -> None:
        """Note that a handler began an update (it is no longer given back on stopping)."""
        if isinstance(update, Update):
            self._started.add(update.update_id)

    async def done(self, update: object) -> None:
        """Mark an update handled (whatever its handler did: an error is not retried forever).

        While the claim loop runs, it marks it, in the transaction of its next claim (one
        transaction for the updates done meanwhile and what their room lets it claim); this
        returns once that is committed.
        """
        if isinstance(update, Update):
            if self._loop_task is not None and not self._stopping:
                marked = asyncio.get_running_loop().create_future()
                self._handled.append((update.update_id, marked))
                self._wake.set()  # the sender's next update may be claimed now
                await marked  # (and the claim that came with it was made)
                return
            await asyncio.to_thread(self.inbox.done, update.update_id)
            self._in_hand.discard(update.update_id)
            self._started.discard(update.update_id)
            self._wake.set()  # the sender's next update may be claimed now

    async def _claim_loop(self, bot: Bot) -> None:
        try:
            await self._claims(bot)
        finally:
            await self._mark_finished(claim=False)  # what was handled while it stopped

    async def _mark_finished(self, claim: bool, room: int = 0) -> list[dict[str, Any]]:
        """Mark the handled updates done and (with `claim`) claim up to `room`, in one
        transaction; tell their waiters. Return the bodies claimed."""
        finished, self._handled = self._handled, []
        ids = [update_id for update_id, _ in finished]
        try:
            if claim:
                bodies = await asyncio.to_thread(
                    self.inbox.claim, self.owner, room, self.lease, None, ids
                )
            else:
                bodies = []
                if ids:
                    await asyncio.to_thread(self.inbox.done_many, ids)
        except BaseException as exc:
            for _, marked in finished:
                if not marked.done():
                    marked.set_exception(exc)
            raise
        for update_id, marked in finished:
            self._in_hand.discard(update_id)
            self._started.discard(update_id)
            if not marked.done():
                marked.set_result(None)
        return bodies

    async def _claims(self, bot: Bot) -> None:
        renewed = time.monotonic()
        while not self._stopping:
            self._wake.clear()  # a wake-up while claiming is kept for the wait below
            full = False
            try:
                # the updates handled and not yet marked are room already
                holding = len(self._in_hand) - len(self._handled)
                room = self.capacity - holding
                busy = holding >= self.capacity // 2 and room < self.refill
                bodies = await self._mark_finished(claim=not busy, room=room)
                full = bool(bodies) and len(bodies) == room
                if self._stopping:  # told to stop while claiming: give these back at once
                    ids = [int(b["update_id"]) for b in bodies]
                    await asyncio.to_thread(self.inbox.release, self.owner, ids)
                    return
                for body in bodies:
                    update = Update.de_json(body, bot)
                    if update is None:
                        continue
                    self._in_hand.add(update.update_id)
                    await super().put(update)
                if self._in_hand and time.monotonic() - renewed > self.lease.total_seconds() / 3:
                    held = sorted(self._in_hand)
                    await asyncio.to_thread(self.inbox.renew, self.owner, held, self.lease)
                    renewed = time.monotonic()
            except Exception:  # the database away for a moment: try again at the next poll
                log.exception("claiming updates from the inbox failed")
            if full:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)


class StoreBeforeConfirming(HTTPXRequest):
    """The getUpdates request (PTB's default for it: one connection) that first stores what the
    previous getUpdates returned (`InboxQueue.store_received`): its offset confirms those."""

    def __init__(self, queue: InboxQueue, **options: Any) -> None:
        super().__init__(connection_pool_size=1, **options)
        self.queue = queue

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Store the received updates, then send the request."""
        await self.queue.store_received()
        return await super().do_request(url, method, *args, **kwargs)


class InboxApplication(Application):
    """PTB's Application that claims updates from the inbox and marks each done once handled."""

    async def process_update(self, update: object) -> None:
        """Handle an update, then mark it done (also when a handler failed: not retried forever)."""
        queue = self.update_queue
        if isinstance(queue, InboxQueue):
            await queue.begin(update)
        handling = HANDLING.set(update.update_id if isinstance(update, Update) else None)
        try:
            await super().process_update(update)
        finally:
            HANDLING.reset(handling)
            if isinstance(queue, InboxQueue):
                await queue.done(update)

    async def stop(self) -> None:
        """Stop claiming first, then let PTB finish the updates in hand."""
        queue = self.update_queue
        if isinstance(queue, InboxQueue):
            await queue.stop_claiming()
        await super().stop()
        if isinstance(queue, InboxQueue):
            await queue.release()


def _sender(update: Update) -> int | None:
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None

"""Updates from one person are handled in the order they arrive; different people's at once."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

# PTB takes its own semaphore before `do_process_update` sees an update, so it cannot be the
# concurrency limit: a sender's queued updates would hold its slots while they wait for their
# turn. It is set out of the way; the real limit is taken after the sender's turn has come.
_UNBOUNDED = 2**31 - 1
MAX_BACKLOG = 100  # a sender's updates waiting beyond this are dropped (nobody types that fast)


class PerSenderUpdateProcessor(BaseUpdateProcessor):
    """Run different senders' updates concurrently and one sender's one after another.

    A handler often sends something and then remembers it (the survey's comment prompt, a
    meeting draft): the sender's next update must not be handled before that is stored, or a
    reply to the prompt is taken for a new question. PTB's own processor runs every update as
    soon as it arrives.

    An update first waits for its sender's turn and only then for one of the
    `max_concurrent_updates` slots, so a sender holds at most one slot however many updates
    they queue: a flood from one person leaves the other slots to everyone else.
    """

    def __init__(self, max_concurrent_updates: int, max_backlog: int = MAX_BACKLOG) -> None:
        if max_concurrent_updates < 1 or max_backlog < 1:
            raise ValueError("max_concurrent_updates and max_backlog must be positive")
        # the base class sizes its semaphore by `max_concurrent_updates`: unbounded while it does
        self._limit = _UNBOUNDED
        super().__init__(_UNBOUNDED)
        self._limit = max_concurrent_updates
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._running = 0
        self.max_backlog = max_backlog
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}  # updates holding or waiting for a sender's lock
        self._dropping: set[int] = set()  # senders whose backlog overflowed (logged once)

    @property
    def max_concurrent_updates(self) -> int:
        """Return how many updates are handled at once at most."""
        return self._limit

    @property
    def current_concurrent_updates(self) -> int:
        """Return how many updates are being handled now (not counting those waiting)."""
        return self._running

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handling after the same sender's earlier updates, in a free slot."""
        key = _sender(update)
        if key is None:
            await self._in_slot(coroutine)
            return
        waiting = self._waiting.get(key, 0)
        if waiting >= self.max_backlog:
            if key not in self._dropping:
                self._dropping.add(key)
                log.warning("sender %s has %d updates waiting: dropping more", key, waiting)
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never run: close it, or Python warns it was never awaited
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = waiting + 1
        try:
            async with lock:
                await self._in_slot(coroutine)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else holds or waits for it: forget the sender
                del self._waiting[key], self._locks[key]
                self._dropping.discard(key)

    async def _in_slot(self, coroutine: Awaitable[Any]) -> None:
        async with self._slots:
            self._running += 1
            try:
                await coroutine
            finally:
                self._running -= 1

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _sender(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None

"""A per-key sliding-window rate limiter with an injectable clock."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class RateLimiter:
    """Allow at most `limit` events per `window` seconds for each key."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._told: dict[Hashable, float] = {}  # when each key was last told it is refused
        self._lock = threading.Lock()

    def check(self, key: Hashable) -> float:
        """Record an event if allowed and return 0; otherwise return seconds until one is allowed."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, events[0] + self.window - now)
            events.append(now)
            return 0.0

    def told(self, key: Hashable) -> bool:
        """Tell whether `key` was already told of a refusal this window; if not, note it now.

        A refused sender hears it once per window: a reply to every refused message would spend
        the bot's global send budget on the flood, and the flooder learns nothing more from it.
        """
        now = self.clock()
        with self._lock:
            last = self._told.get(key)
            if last is not None and now - last < self.window:
                return True
            self._told[key] = now
            return False

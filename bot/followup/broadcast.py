"""Broadcast: one message to many users, paced under Telegram's limits, counting blocked ones."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Telegram allows about 30 messages per second to different users; stay well under it.
DEFAULT_PER_SECOND = 20.0


class RecipientBlocked(Exception):
    """The recipient blocked the bot or deleted their account (Telegram's Forbidden)."""


class RetryLater(Exception):
    """Telegram asked to wait (flood control, its RetryAfter) before sending again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


@dataclass
class BroadcastResult:
    """How a broadcast went: delivered, blocked (by the recipient) and failed, with who."""

    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    blocked_ids: list[int] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)


def broadcast(
    recipients: Iterable[int],
    send: Callable[[int], object],
    per_second: float = DEFAULT_PER_SECOND,
    sleep: Callable[[float], object] = time.sleep,
    max_retries: int = 2,
) -> BroadcastResult:
    """Send to each recipient once, one at a time, at most `per_second` sends a second.

    `send(user_id)` raises RecipientBlocked for a user who blocked the bot, RetryLater when
    Telegram asks to slow down (waited out, then retried up to `max_retries` times), and any
    other exception for a failure; one recipient's failure never stops the broadcast.
    """
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    gap = 1.0 / per_second
    result = BroadcastResult()
    seen: set[int] = set()
    for user_id in recipients:
        if user_id in seen:  # a recipient listed twice still gets one message
            continue
        if seen:
            sleep(gap)
        seen.add(user_id)
        for attempt in range(max_retries + 1):
            try:
                send(user_id)
            except RecipientBlocked:
                result.blocked += 1
                result.blocked_ids.append(user_id)
            except RetryLater as exc:
                if attempt < max_retries:
                    sleep(exc.seconds)
                    continue
                result.failed += 1
                result.failed_ids.append(user_id)
            except Exception as exc:  # any other failure is counted; the rest still get the message
                log.warning("broadcast to %s failed: %s", user_id, type(exc).__name__)
                result.failed += 1
                result.failed_ids.append(user_id)
            else:
                result.delivered += 1
            break
    log.info(
        "broadcast: %d delivered, %d blocked, %d failed",
        result.delivered,
        result.blocked,
        result.failed,
    )
    return result

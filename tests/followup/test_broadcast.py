"""Broadcast: paced sends, a blocked user counted apart, failures never stop the rest."""

from __future__ import annotations

import pytest

from bot.followup.broadcast import RecipientBlocked, RetryLater, broadcast


class FakeSleep:
    """Records the pauses instead of taking them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_a_blocked_user_is_counted_and_everyone_else_gets_the_message() -> None:
    sent: list[int] = []

    def send(user_id: int) -> None:
        if user_id == 2:
            raise RecipientBlocked()
        if user_id == 4:
            raise RuntimeError("network down")
        sent.append(user_id)

    sleep = FakeSleep()
    result = broadcast([1, 2, 3, 4, 5, 3], send, per_second=20, sleep=sleep)
    assert (result.delivered, result.blocked, result.failed) == (3, 1, 1)
    assert result.blocked_ids == [2] and result.failed_ids == [4]
    assert sent == [1, 3, 5]  # the duplicate 3 got one message
    assert sleep.calls == [0.05] * 4  # paced between the five distinct recipients


def test_flood_control_is_waited_out_then_retried() -> None:
    attempts: list[int] = []

    def send(user_id: int) -> None:
        attempts.append(user_id)
        if user_id == 1 and attempts.count(1) == 1:
            raise RetryLater(3)
        if user_id == 2:
            raise RetryLater(1)

    sleep = FakeSleep()
    result = broadcast([1, 2], send, per_second=10, sleep=sleep, max_retries=2)
    assert (result.delivered, result.blocked, result.failed) == (1, 0, 1)
    assert attempts == [1, 1, 2, 2, 2]
    assert sleep.calls == [3, 0.1, 1, 1]


def test_an_empty_audience_sends_nothing_and_a_bad_rate_is_refused() -> None:
    def send(user_id: int) -> None:
        raise AssertionError("nobody to send to")

    result = broadcast([], send, sleep=FakeSleep())
    assert (result.delivered, result.blocked, result.failed) == (0, 0, 0)
    with pytest.raises(ValueError):
        broadcast([1], send, per_second=0)

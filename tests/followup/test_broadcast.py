"""Broadcast: paced sends, a blocked user counted apart, failures never stop the rest."""

from __future__ import annotations

import pytest

from bot.followup.broadcast import BroadcastStore, RecipientBlocked, RetryLater, broadcast
from bot.storage.db import Database
from tests.followup.conftest import Clock
from tests.storage.races import held_before, race


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


def test_a_broadcast_whose_process_died_goes_on_from_another_without_a_second_message(
    db: Database, database_url: str, clock: Clock
) -> None:
    other = Database(database_url)
    first, second = BroadcastStore(db, clock), BroadcastStore(other, clock)
    claimed = first.start("w1", "Slides", 100, [1, 2, 3, 2, 4], "update:9", "a")
    assert claimed.user_ids == [1, 2, 3, 4], "someone listed twice gets one message"
    assert second.claim("b") is None, "held by the process sending it"
    first.record(claimed.broadcast_id, 1, "delivered", "a")
    first.record(claimed.broadcast_id, 2, "blocked", "a")
    # process a dies here; its update is handled again elsewhere: the same broadcast, not anew
    again = second.start("w1", "Slides", 100, [1, 2, 3, 4], "update:9", "b")
    assert again.broadcast_id == claimed.broadcast_id and again.user_ids == []
    clock.advance(minutes=3)  # a's claims ran out
    rest = second.claim("b")
    assert rest is not None and rest.user_ids == [3, 4] and rest.body == "Slides"
    assert second.claim("c") is None
    assert not second.finish(rest.broadcast_id), "two recipients still pending"
    for user_id in rest.user_ids:
        second.record(rest.broadcast_id, user_id, "delivered", "b")
    assert second.finish(rest.broadcast_id) and not first.finish(rest.broadcast_id)
    result = first.result(rest.broadcast_id)
    assert (result.delivered, result.blocked, result.blocked_ids) == (3, 1, [2])
    other.close()


def test_two_processes_taking_up_a_stalled_broadcast_at_once_split_it(
    db: Database, database_url: str, clock: Clock
) -> None:
    other = Database(database_url)
    stores = BroadcastStore(db, clock), BroadcastStore(other, clock)
    stores[0].start("w1", "Hi", 100, range(1, 21), None, "dead")
    clock.advance(minutes=3)
    with held_before([db, other], r"UPDATE broadcast_recipients"):
        got = race(lambda: stores[0].claim("a"), lambda: stores[1].claim("b"))
    users = [u for c in got if c is not None for u in c.user_ids]  # type: ignore[attr-defined]
    assert sorted(users) == list(range(1, 21)), "each recipient taken by one process"
    other.close()

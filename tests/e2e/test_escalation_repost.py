"""The job that posts a question nobody answered to the staff chat once more, end to end.

The bot runs with a short repost time and poll interval (ESCALATION_REPOST_AFTER_MIN,
ESCALATION_REPOST_POLL_S); their defaults, an hour and a minute, are too long for a test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_bot import STAFF, TOKEN, buttons, start_bot, stop_bot

from .emulator import BotApiEmulator

ANSWERED_ASKER, WAITING_ASKER = 610, 620
STAFF_CHAT = -910
REPOST_AFTER_S = 9  # the answered question is answered well before this


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotApiEmulator]:
    data = tmp_path_factory.mktemp("repost") / "data"  # no documents: every question is escalated
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    emu.user(ANSWERED_ASKER, "Ada", "en")
    emu.user(WAITING_ASKER, "Wim", "en")
    emu.group(STAFF_CHAT, "Exchange office staff", "supergroup")
    proc = start_bot(
        emu,
        data,
        STAFF_CHAT_ID=str(STAFF_CHAT),
        ESCALATION_REPOST_AFTER_MIN=str(REPOST_AFTER_S / 60),
        ESCALATION_REPOST_POLL_S="1",
    )
    yield emu
    stop_bot(proc)
    emu.stop()


def ask(emu: BotApiEmulator, user: int, question: str) -> dict:  # type: ignore[type-arg]
    """Ask a question the bot cannot answer; return its post in the staff chat."""
    mark = emu.mark()
    emu.send_text(user, question)
    emu.wait_for(lambda r: r["chat_id"] == user and "passed your question" in r["text"], since=mark)
    return emu.wait_for(lambda r: r["chat_id"] == STAFF_CHAT and question in r["text"], since=mark)


def posts_of(emu: BotApiEmulator, question: str) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in emu.messages_to(STAFF_CHAT) if question in (r["text"] or "")]


def answer_by_reply(bot: BotApiEmulator, post: dict[str, Any], text: str, asker: int) -> None:
    """Staff answer a post by replying to it in the staff chat; wait until the asker has it."""
    mark = bot.mark()
    bot.send_text(
        STAFF,
        text,
        chat_id=STAFF_CHAT,
        chat_type="supergroup",
        reply_to_message_id=post["message_id"],
    )
    bot.wait_for(lambda r: r["chat_id"] == asker and text in r["text"], since=mark)


def test_an_unanswered_question_is_posted_to_staff_again_and_an_answered_one_is_not(
    bot: BotApiEmulator,
) -> None:
    answered = "Does the youth orchestra exchange with Riverton take cellists this year?"
    waiting = "Can a delegation from Bien Hoa bring its own interpreter to the city council?"

    # the first question is answered at once, by a reply to its post
    post = ask(bot, ANSWERED_ASKER, answered)
    answer_by_reply(bot, post, "Yes, two cellists this year.", ANSWERED_ASKER)

    # the second is left waiting: once it is older than the repost time, it is posted again
    first = ask(bot, WAITING_ASKER, waiting)
    repost = bot.wait_for(
        lambda r: r["chat_id"] == STAFF_CHAT and waiting in r["text"],
        since=bot.sent.index(first) + 1,
        timeout=REPOST_AFTER_S + 10,
    )
    assert repost["message_id"] != first["message_id"]
    assert buttons(repost) == buttons(first), "the repost has the same Answer / Mine / Dismiss"

    # the answered question was due before the waiting one, so the job has passed it over
    assert len(posts_of(bot, answered)) == 1, "an answered question is not posted again"

    # once only: a few polls later there is still the one repost
    time.sleep(3)
    assert len(posts_of(bot, waiting)) == 2

    # the repost works like the first post: a reply to it answers the asker
    answer_by_reply(bot, repost, "Yes, with the approval of the protocol office.", WAITING_ASKER)

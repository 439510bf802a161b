"""One sender's flood never stalls the others, and costs the bot one notice per window."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_bot import data_dir, start_bot, stop_bot  # noqa: F401 (a fixture)

from .emulator import BotApiEmulator

TOKEN = "123456:TEST"
FLOODER, OTHER = 610, 620
LIMIT = 20  # questions per window
FLOOD = 300
QUESTION = "How often is the Riverton agreement reviewed?"
NOTICE = "faster than I can answer"


@pytest.fixture
def flood_bot(data_dir: Path) -> Iterator[BotApiEmulator]:  # noqa: F811
    """Start the bot with a window longer than the test, so every refusal falls in one."""
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(FLOODER, "Flo", "en")
    emu.user(OTHER, "Otto", "en")
    proc = start_bot(emu, data_dir, RATE_LIMIT_QUESTIONS=str(LIMIT), RATE_LIMIT_WINDOW_S="600")
    try:
        yield emu
    finally:
        log = stop_bot(proc)
        emu.stop()
    assert "Traceback" not in log and "Error handling update" not in log


def answered(emu: BotApiEmulator, user: int, since: int, timeout: float = 30) -> float:
    """Wait for the user's answer (a message with vote buttons); return when it came."""
    emu.wait_for(
        lambda r: r["chat_id"] == user and bool(r.get("reply_markup")), since=since, timeout=timeout
    )
    return time.monotonic()


def test_a_flood_of_300_questions_leaves_another_user_answered_within_2_s(
    flood_bot: BotApiEmulator,
) -> None:
    emu = flood_bot
    mark = emu.mark()
    emu.send_text(OTHER, QUESTION)  # the models are warm before anything is measured
    answered(emu, OTHER, mark, timeout=60)

    def flood() -> None:  # 300 questions in 3 s, as the report had it
        for i in range(FLOOD):
            emu.send_text(FLOODER, f"{QUESTION} ({i})")
            time.sleep(3 / FLOOD)

    flooding = threading.Thread(target=flood)
    flooding.start()
    waits = []
    for pause in (1.0, 1.5, 2.0):  # asked while the flood comes in, and once it is all there
        time.sleep(pause)
        mark = emu.mark()
        asked = time.monotonic()
        emu.send_text(OTHER, QUESTION)
        waits.append(answered(emu, OTHER, mark) - asked)
    flooding.join()
    assert max(waits) < 2.0, f"the other user waited {waits} s behind the flood"

    # the flooder's updates are handled in order: a reply to a later /whoami comes after all of
    # them (asked again while their backlog may be full and new updates are dropped)
    for _ in range(30):
        mark = emu.mark()
        emu.send_text(FLOODER, "/whoami")
        try:
            emu.wait_for(
                lambda r: r["chat_id"] == FLOODER and "role" in (r["text"] or "").lower(),
                since=mark,
                timeout=3,
            )
            break
        except AssertionError:
            continue
    to_flooder = [r["text"] or "" for r in emu.messages_to(FLOODER)]
    notices = [text for text in to_flooder if NOTICE in text]
    answers = [r for r in emu.messages_to(FLOODER) if r.get("reply_markup")]
    assert len(notices) == 1, "one rate-limit notice per window, not one per message"
    assert len(answers) == LIMIT
    typing = [c for c in emu.calls_of("sendChatAction") if c.get("chat_id") == FLOODER]
    assert len(typing) <= LIMIT, "no 'typing' for a refused question"

"""Nothing received is lost: a bot killed mid-burst answers the rest after it starts again."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e.test_bot import TOKEN, data_dir, start_bot, stop_bot  # noqa: F401 (fixture)

from .emulator import BotApiEmulator

USERS = range(7000, 7030)


def answered(emu: BotApiEmulator) -> set[int]:
    """Return the users who got an answer (a message with vote buttons)."""
    return {
        r["chat_id"]
        for r in emu.sent
        if r["method"] == "sendMessage" and r.get("reply_markup") and r["chat_id"] in USERS
    }


def test_a_bot_killed_during_a_burst_answers_every_question_after_a_restart(
    data_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    with BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot") as emu:
        for user in USERS:
            emu.user(user, f"User {user}", "en")
        proc = start_bot(emu, data_dir, RATE_LIMIT_QUESTIONS="30")
        try:
            for user in USERS:
                emu.send_text(user, "How often is the Riverton agreement reviewed?")
            deadline = time.monotonic() + 60
            while not answered(emu) and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)  # mid-burst: some answered, the rest received
            proc.wait(timeout=30)
            before = answered(emu)
            assert 0 < len(before) < len(USERS), "the kill came during the burst"
            proc = start_bot(emu, data_dir, RATE_LIMIT_QUESTIONS="30")
            deadline = time.monotonic() + 120
            while answered(emu) != set(USERS) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert answered(emu) == set(USERS), f"unanswered: {set(USERS) - answered(emu)}"
        finally:
            log = stop_bot(proc)
    assert "Traceback" not in log

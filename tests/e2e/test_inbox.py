"""Nothing received is lost: a bot killed mid-burst answers the rest after it starts again."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e.test_bot import (  # noqa: F401 (fixture)
    DATABASES,
    TOKEN,
    data_dir,
    start_bot,
    stop_bot,
)

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


def test_two_bots_on_one_database_each_answer_only_their_own_updates(
    data_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    # two tokens, two Bot APIs, one database: each bot counts update ids from 1, so the ids
    # collide too; before the inbox was per bot one bot took (or lost) the other's updates
    tokens = {"a": "111111:FIRST", "b": "222222:SECOND"}
    people = {"a": range(7100, 7105), "b": range(7200, 7205)}
    second_dir = data_dir.parent / "data-second-bot"
    with (
        BotApiEmulator(token=tokens["a"], bot_username="first_bot") as first,
        BotApiEmulator(token=tokens["b"], bot_username="second_bot") as second,
    ):
        emus = {"a": first, "b": second}
        for name, emu in emus.items():
            for user in people[name]:
                emu.user(user, f"User {user}", "en")
        procs = [start_bot(first, data_dir, TELEGRAM_BOT_TOKEN=tokens["a"])]
        try:
            procs.append(
                start_bot(
                    second,
                    second_dir,
                    TELEGRAM_BOT_TOKEN=tokens["b"],
                    DATABASE_URL=DATABASES[data_dir],  # the first bot's database
                )
            )
            for name, emu in emus.items():
                for user in people[name]:
                    emu.send_text(user, "/whoami")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(
                whoami(emu) != set(people[name]) for name, emu in emus.items()
            ):
                time.sleep(0.2)
            for name, emu in emus.items():
                assert whoami(emu) == set(people[name]), f"bot {name} answered {whoami(emu)}"
                strangers = [r for r in emu.sent if r.get("chat_id") not in people[name]]
                assert strangers == [], f"bot {name} wrote to another bot's users: {strangers}"
        finally:
            logs = [stop_bot(p) for p in procs]
    for log in logs:
        assert "Traceback" not in log and all(t not in log for t in tokens.values())


def whoami(emu: BotApiEmulator) -> set[int]:
    """Return the users who got their role told."""
    return {
        r["chat_id"]
        for r in emu.sent
        if r["method"] == "sendMessage" and "Your role" in r.get("text", "")
    }

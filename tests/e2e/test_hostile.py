"""Hostile files, floods and long answers, through the real bot: zip bombs are refused with the
reason and the bot's memory stays low, a long upload is acknowledged at once, a stop ends it."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.i18n import t
from tests.e2e.test_bot import STAFF, TOKEN, start_bot, stop_bot, upload_result

from .emulator import BotApiEmulator

MEMORY_CAP_KB = 1024 * 1024  # the bot process may not pass 1 GB, whatever a file unpacks to


class Bot:
    """The bot process and the emulator it talks to."""

    def __init__(self, emu: BotApiEmulator, proc: subprocess.Popen[bytes]) -> None:
        self.emu, self.proc = emu, proc

    def peak_kb(self) -> int:
        """Return the bot process's peak resident memory (VmHWM) so far."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]
        )

    def send(self, name: str, content: bytes, choice: str = "internal") -> int:
        """Send a file as staff and press a visibility; return the mark taken before the press."""
        emu = self.emu
        mark = emu.mark()
        emu.send_document(STAFF, name, content)
        prompt = emu.wait_for(
            lambda r: r["chat_id"] == STAFF and r.get("reply_markup"), timeout=30, since=mark
        )
        data = next(
            b["callback_data"]
            for row in prompt["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].endswith(f":{choice}")
        )
        mark = emu.mark()
        emu.press_button(STAFF, prompt["message_id"], data)
        return mark


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """One bot on an empty knowledge base for every test here (the last one stops it)."""
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    proc = start_bot(emu, tmp_path_factory.mktemp("hostile") / "data")
    yield Bot(emu, proc)
    if proc.poll() is None:
        stop_bot(proc)
    emu.stop()


def test_zip_bombs_are_refused_with_the_reason_and_the_bot_stays_small(
    bot: Bot, bombs: dict[str, Path]
) -> None:
    for bomb in bombs.values():
        mark = bot.send(bomb.name, bomb.read_bytes())
        told = upload_result(bot.emu, STAFF, bomb.name, mark, timeout=180)["text"]
        assert told.startswith(f"Could not add “{bomb.name}”"), told
        assert "unpacks to 1,228 MB, more than 200 MB (setting MAX_UNPACKED_MB)" in told, told
    assert bot.peak_kb() < MEMORY_CAP_KB, f"the bot peaked at {bot.peak_kb() // 1024} MB"
    print(f"the bot peaked at {bot.peak_kb() // 1024} MB")  # noqa: T201 (shown with -s)
    # and it still reads a proper file afterwards
    mark = bot.send("fine.md", b"---\ntitle: Fine\nlanguage: en\n---\nA fine file.\n")
    assert "Added “fine.md”" in upload_result(bot.emu, STAFF, "fine.md", mark)["text"]


def _long_text(varied: bool) -> bytes:
    """Return ~300 KB of text: varied sentences, or one sentence (cheap to embed) repeated."""
    lines = ["---", "title: Long minutes", "language: en", "---"]
    i = 0
    while sum(len(line) + 1 for line in lines) < 300 * 1024:
        if i % 12 == 0:
            lines.append(f"\n# Part {i // 12}\n")
        elif varied:
            lines.append(
                f"Item {i}: the delegation of partner city {i % 97} discussed topic {i * 7}."
            )
        else:
            lines.append("The exchange office keeps the minutes of every meeting for five years.")
        i += 1
    return "\n".join(lines).encode()


def test_a_300_kb_upload_is_acknowledged_before_it_is_read(bot: Bot) -> None:
    emu = bot.emu
    content = _long_text(varied=False)
    assert len(content) >= 300 * 1024
    calls = len(emu.calls)
    mark = bot.send("long-minutes.md", content)
    pressed = time.monotonic()
    ack_text = t("upload_reading", "en", name="long-minutes.md", visibility="Internal (staff)")
    ack = emu.wait_for(lambda r: r["chat_id"] == STAFF and r["text"] == ack_text, 30, mark)
    acknowledged = time.monotonic() - pressed
    done = upload_result(emu, STAFF, "long-minutes.md", mark, timeout=300)
    assert "Added “long-minutes.md”" in done["text"], done["text"]
    sent = emu.messages_to(STAFF)
    assert sent.index(ack) < sent.index(done), "the acknowledgement comes first"
    # and it was sent before the file was even fetched
    methods = [name for name, _ in emu.calls[calls:]]
    ack_call = next(
        i
        for i, (name, params) in enumerate(emu.calls[calls:])
        if name == "sendMessage" and params.get("text") == ack_text
    )
    assert ack_call < methods.index("getFile"), methods
    print(f"acknowledged {acknowledged:.2f} s after the press")  # noqa: T201 (shown with -s)


def test_a_stop_during_a_long_ingest_ends_the_bot_in_time_and_tells_the_uploader(
    bot: Bot,
) -> None:
    emu = bot.emu
    mark = bot.send("varied-minutes.md", _long_text(varied=True))
    ack_text = t("upload_reading", "en", name="varied-minutes.md", visibility="Internal (staff)")
    emu.wait_for(lambda r: r["chat_id"] == STAFF and r["text"] == ack_text, 30, mark)
    time.sleep(5)  # into the embedding
    stopped = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    try:
        bot.proc.wait(60)
    except subprocess.TimeoutExpired:
        bot.proc.kill()
        pytest.fail("the bot did not stop within 60 s of SIGTERM")
    assert bot.proc.returncode == 0, bot.proc.returncode
    told = emu.wait_for(
        lambda r: r["chat_id"] == STAFF and "varied-minutes.md" in r["text"], 5, mark + 1
    )
    assert told["text"] == t("upload_interrupted", "en", name="varied-minutes.md")
    print(f"stopped {time.monotonic() - stopped:.1f} s after SIGTERM")  # noqa: T201

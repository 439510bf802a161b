"""A slow model never freezes the bot: others are answered while it thinks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.services import build_services
from tests.conftest import chat_completion, make_settings, write
from tests.e2e.test_bot import DOCS, PUBLIC, STAFF, TOKEN, reply_to, start_bot, stop_bot

from .emulator import BotApiEmulator

SLOW_S = 10.0


class SlowModel:
    """An OpenAI-compatible fake: structured output (the meeting parser) takes SLOW_S seconds."""

    def __init__(self) -> None:
        self.slow_done = threading.Event()
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if "response_format" in body or "tools" in body:
                    time.sleep(SLOW_S)
                    reply = chat_completion("{}")  # unusable: the rules parse the sentence
                    model.slow_done.set()
                else:
                    reply = chat_completion("The agreement is reviewed every three years [1].")
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"


@pytest.fixture
def model() -> Iterator[SlowModel]:
    fake = SlowModel()
    yield fake
    fake.server.shutdown()


def test_a_slow_model_parsing_a_meeting_leaves_others_answered(
    model: SlowModel,
    tmp_path: Path,
    embedder,
    analyzer,  # type: ignore[no-untyped-def]
) -> None:
    for name, text in DOCS.items():
        write(tmp_path / "kb" / name, text)
    services = build_services(
        make_settings(tmp_path / "data"), embedder=embedder, analyzer=analyzer
    )
    services.ingestor.ingest([tmp_path / "kb"])
    services.close()
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    emu.user(PUBLIC, "Pat", "en")
    proc = start_bot(
        emu,
        tmp_path / "data",
        OPENAI_BASE_URL=model.url,
        OPENAI_API_KEY="sk-local-fake",
        OPENAI_TIMEOUT_S="30",
        OPENAI_MAX_RETRIES="0",
        STREAM_ANSWERS="false",  # this fake answers in one piece (streaming: test_streaming.py)
    )
    try:
        mark = emu.mark()
        emu.send_text(STAFF, "meeting with Riverton next Wednesday 10am their time for 45 minutes")
        time.sleep(0.5)  # the staff member's sentence is with the model now
        emu.send_text(PUBLIC, "/help")
        help_reply = reply_to(emu, PUBLIC, mark)
        emu.send_text(PUBLIC, "How often is the Riverton agreement reviewed?")
        answer = emu.wait_for(
            lambda r: r["chat_id"] == PUBLIC and "three years" in (r.get("text") or ""), since=mark
        )
        assert help_reply and answer
        assert not model.slow_done.is_set(), "answered while the model was still parsing"
        meeting = reply_to(emu, STAFF, mark, timeout=60)
        assert model.slow_done.is_set()
        data = [
            b["callback_data"] for row in meeting["reply_markup"]["inline_keyboard"] for b in row
        ]
        assert data and all(d.startswith("m:") for d in data), "a /meet flow, not an answer"
    finally:
        stop_bot(proc)
        emu.stop()

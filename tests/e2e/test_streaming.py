"""The connected mode end to end: `exchange-bot run` against the Bot API emulator and a streaming
OpenAI-compatible fake. The answer is one message edited while the model writes it, finished
with its sources and vote buttons; a broken stream, a translation and a slow translation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.services import build_services
from tests.conftest import CONNECTED_DOCS as DOCS
from tests.conftest import QUESTION, TRANSLATION, FakeOpenAI, make_settings, write
from tests.e2e.test_bot import GROUP, PUBLIC, TOKEN, start_bot, stop_bot

from .emulator import BotApiEmulator

REVIEW = "How often is the Riverton agreement reviewed?"
# what the fake model says (by a word of the question): the fact of the passage holding the
# needle, citing that passage's number
FACTS = {
    "everything": (
        "every three years",
        " ".join(
            f"Point {i}: the parties review the agreement every three years [{{n}}]."
            for i in range(90)
        ),
    ),
    "Riverton": (
        "every three years",
        "The parties review the Riverton agreement every three years, at a joint meeting "
        "of both cities, as Article 5 of the agreement says [{n}].",
    ),
    "": ("12명", "The 2025 delegation to Darkhan has 12 students and 2 teachers [{n}]."),
}


def model_answer(body: dict[str, Any]) -> str:
    """Answer from the context as a model would: the fact of the passage that holds it."""
    prompt = str(body["messages"][-1]["content"])
    question = prompt.rsplit("Question:", 1)[-1]
    needle, answer = next(fact for word, fact in FACTS.items() if word in question)
    for n, text in re.findall(r'<document n="(\d+)"[^>]*>(.*?)</document>', prompt, re.S):
        if needle in text:
            return answer.format(n=n)
    return "NO_ANSWER"


@dataclass
class Env:
    emu: BotApiEmulator
    model: FakeOpenAI


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, embedder, analyzer) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("streaming")
    for name, text in DOCS.items():  # mostly Korean, one English agreement
        write(root / "kb" / name, text)
    services = build_services(make_settings(root / "data"), embedder=embedder, analyzer=analyzer)
    services.ingestor.ingest([root / "kb"])
    services.close()
    model = FakeOpenAI(model_answer, translations={QUESTION: TRANSLATION}).__enter__()
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(PUBLIC, "Pat", "en")
    emu.group(GROUP, "Hanbit–Riverton working group", "supergroup")
    proc = start_bot(
        emu,
        root / "data",
        OPENAI_BASE_URL=model.url,
        OPENAI_API_KEY="sk-local-fake",
        OPENAI_MAX_RETRIES="0",
        TRANSLATION_TIMEOUT_S="1",
    )
    try:
        yield Env(emu, model)
    finally:
        log = stop_bot(proc)
        emu.stop()
        model.__exit__()
        assert "sk-local-fake" not in log and TOKEN not in log
        for question in (REVIEW, QUESTION, TRANSLATION):
            assert question not in log, "nobody's question reaches the log"


def finished(emu: BotApiEmulator, since: int, timeout: float = 60) -> dict[str, Any]:
    """Wait for the answer to PUBLIC to carry its vote buttons (its finished form); return it."""
    record: dict[str, Any] = emu.wait_for(
        lambda r: r["chat_id"] == PUBLIC and bool(r.get("reply_markup")), timeout, since
    )
    return record


def edits_of(emu: BotApiEmulator, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the edits of one sent message, in order."""
    return [
        e
        for e in list(emu.edited)
        if e["chat_id"] == record["chat_id"] and e["message_id"] == record["message_id"]
    ]


def test_the_answer_is_edited_as_it_is_written_then_finished_with_sources_and_buttons(
    env: Env,
) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 8, 0.5, None
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, REVIEW)
    answer = finished(env.emu, mark)
    assert [r for r in env.emu.sent[mark:] if r["chat_id"] == PUBLIC] == [answer], "one message"
    assert "every three years" in answer["text"]
    assert "Sources" in answer["text"] and "Riverton sister-city agreement" in answer["text"]
    buttons = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["👍", "👎"]
    drafts = [h["text"] for h in answer["history"]]  # what it showed before each edit
    assert len(drafts) >= 3, drafts  # sent, edited at least twice, then finished
    assert all(d.endswith("…") for d in drafts), "a draft says it is still being written"
    grown = [d.removesuffix("…").strip() for d in drafts]
    assert all(b.startswith(a) for a, b in zip(grown, grown[1:], strict=False)), grown
    assert len(grown[0]) < len(grown[-1]) < len(answer["text"])
    # at most about one edit a second in a chat (the first send counts as the first step)
    times = [answer["time"], *(e["time"] for e in edits_of(env.emu, answer))]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps and min(gaps) >= 0.9, gaps


def test_a_stream_cut_halfway_ends_as_the_extractive_answer_and_says_so(env: Env) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 8, 0.4, 3
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, REVIEW)
    answer = finished(env.emu, mark)
    assert [h["text"] for h in answer["history"]], "part of the model's answer was shown"
    assert answer["history"][0]["text"].startswith("The parties review")
    assert answer["text"].startswith("The model's answer broke off")
    assert "The parties review this agreement every three years" in answer["text"]  # quoted
    assert "Sources" in answer["text"] and "Riverton sister-city agreement" in answer["text"]
    assert [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row] == [
        "👍",
        "👎",
    ]


def test_an_english_question_is_also_searched_in_korean_and_cites_the_korean_document(
    env: Env,
) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 2, 0.0, None
    before = len(env.model.translation_requests())
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, QUESTION)
    answer = finished(env.emu, mark)
    asked = env.model.translation_requests()[before:]
    assert [b["messages"][-1]["content"] for b in asked] == [QUESTION]
    assert "Korean" in asked[0]["messages"][0]["content"]
    assert "12 students" in answer["text"]
    assert "한빛시–다르항 청소년 교류 계획" in answer["text"].split("Sources", 1)[1]


def test_a_translation_that_times_out_still_gets_an_answer(env: Env) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 2, 0.0, None
    env.model.translation_delay = 5.0  # TRANSLATION_TIMEOUT_S is 1
    try:
        mark = env.emu.mark()
        started = time.time()
        env.emu.send_text(PUBLIC, "How often do the parties review the Riverton agreement?")
        answer = finished(env.emu, mark)
        took = time.time() - started
    finally:
        env.model.translation_delay = 0.0
    assert "every three years" in answer["text"] and "Sources" in answer["text"]
    assert took < 4.5, f"the translation's timeout ends the wait, not the model: {took:.1f} s"


def test_a_question_in_the_documents_language_is_streamed_without_translation(
    env: Env, tmp_path: Path
) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 3, 0.0, None
    before = len(env.model.translation_requests())
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, TRANSLATION)
    answer = finished(env.emu, mark)
    assert len(env.model.translation_requests()) == before
    assert "12 students" in answer["text"]


def test_a_long_streamed_answer_stays_within_telegrams_limit_in_several_messages(env: Env) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 6, 0.3, None
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, "Tell me everything about the Riverton review, point by point.")
    last = finished(env.emu, mark)
    parts = [r for r in env.emu.sent[mark:] if r["chat_id"] == PUBLIC]
    assert len(parts) >= 2 and parts[-1] is last
    assert all(len(p["text"]) <= 4096 for p in parts)  # the emulator refuses longer ones too
    whole = " ".join(p["text"] for p in parts)
    assert "Point 0:" in whole and "Point 89:" in whole and "Sources" in last["text"]
    assert not any(p["text"].endswith("…") for p in parts), "no draft left unfinished"
    assert all(p.get("reply_markup") is None for p in parts[:-1])  # buttons under the last only


def test_in_a_group_the_draft_is_edited_at_most_every_three_seconds(env: Env) -> None:
    env.model.pieces, env.model.delay, env.model.cut_after = 8, 0.5, None
    mark = env.emu.mark()
    env.emu.send_text(PUBLIC, f"@exchange_test_bot {REVIEW}", chat_id=GROUP, chat_type="supergroup")
    answer = env.emu.wait_for(
        lambda r: r["chat_id"] == GROUP and bool(r.get("reply_markup")), 60, mark
    )
    assert "every three years" in answer["text"] and "Sources" in answer["text"]
    assert answer["reply_to_message_id"] is not None  # quoted, as answers in groups are
    assert answer["history"], "it was drafted"
    times = [answer["time"], *(e["time"] for e in edits_of(env.emu, answer))]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps and min(gaps) >= 2.9, gaps

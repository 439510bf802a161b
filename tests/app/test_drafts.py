"""A question's answer through a Draft: shown while a model writes it, never in offline mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app.core import App
from bot.app.messages import Actor
from bot.services import build_services
from tests.app.conftest import RecordingOutbox
from tests.conftest import QUESTION, TRANSLATION, FakeOpenAI, cite_the_fact, make_settings

PUBLIC = 200


class Shown:
    """A front-end's draft that keeps what it was asked to show."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def write(self, text: str) -> None:
        self.texts.append(text)


def ask(app: App, text: str, draft: Shown) -> Any:
    return app.text(Actor(PUBLIC, PUBLIC, first_name="Pat", language_code="en"), text, draft=draft)


def test_a_models_answer_is_drafted_and_the_reply_marks_its_finished_form(connected) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(cite_the_fact, translations={QUESTION: TRANSLATION}, pieces=3) as fake:
        app = App(connected(fake), RecordingOutbox())
        draft = Shown()
        reply = ask(app, QUESTION, draft)
    (out,) = reply.messages
    assert out.draft and out.answer is not None and out.answer.mode == "llm"
    assert draft.texts and draft.texts[-1] == out.answer.text
    assert [b.label for row in out.buttons for b in row] == ["👍", "👎"]


def test_streaming_can_be_turned_off(connected) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(cite_the_fact, translations={QUESTION: TRANSLATION}, pieces=3) as fake:
        app = App(connected(fake, stream_answers=False), RecordingOutbox())
        draft = Shown()
        reply = ask(app, QUESTION, draft)
        assert all(body.get("stream") is not True for body in fake.answer_requests())
    assert draft.texts == [] and not reply.messages[0].draft
    assert reply.messages[0].answer is not None and reply.messages[0].answer.mode == "llm"


def test_the_offline_answer_is_never_drafted(connected_data: Path, embedder, analyzer) -> None:  # type: ignore[no-untyped-def]
    services = build_services(make_settings(connected_data), embedder=embedder, analyzer=analyzer)
    try:
        draft = Shown()
        reply = ask(App(services, RecordingOutbox()), TRANSLATION, draft)
    finally:
        services.close()
    assert draft.texts == [] and not reply.messages[0].draft
    answer = reply.messages[0].answer
    assert answer is not None and answer.mode == "extractive" and "12명" in answer.text

"""The console chat prints an answer a model writes as it comes, then its sources."""

from __future__ import annotations

import io
import time

from bot.console import Console, console_services
from bot.domain import Role
from tests.conftest import QUESTION, TRANSLATION, FakeOpenAI, cite_the_fact


class Terminal(io.StringIO):
    """A terminal that remembers when each piece of text reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((time.monotonic(), text))
        return super().write(text)


def test_the_console_prints_a_streamed_answer_as_it_comes_then_its_sources(connected) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(
        cite_the_fact, translations={QUESTION: TRANSLATION}, pieces=4, delay=0.4
    ) as fake:
        services = console_services(connected(fake), Role.STAFF, None)
        terminal = Terminal()
        Console(services, out=terminal).handle(QUESTION)
    out = terminal.getvalue()
    answer = "The 2025 delegation has 12 students and 2 teachers [1]."
    assert out.count(answer) == 1, out  # printed once, as it came, not again at the end
    assert "Sources:" in out.split(answer, 1)[1] and "한빛시–다르항 청소년 교류 계획" in out
    pieces = [(at, text) for at, text in terminal.writes if text and text in answer]
    assert len(pieces) >= 3, terminal.writes
    assert pieces[-1][0] - pieces[0][0] >= 0.8, "the pieces came while the model wrote"


def test_the_console_prints_a_broken_stream_again_as_the_extractive_answer(connected) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(cite_the_fact, pieces=6, cut_after=3) as fake:
        services = console_services(connected(fake), Role.STAFF, None)
        terminal = Terminal()
        Console(services, out=terminal).handle(TRANSLATION)
    out = terminal.getvalue()
    notice = services.office.t("answer_interrupted", "ko")
    assert out.index("The 2025 delegation") < out.index(notice)  # the part shown, then the end
    assert "12명" in out.split(notice, 1)[1]

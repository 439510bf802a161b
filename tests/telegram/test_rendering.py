"""Rendering for Telegram: escaping, source lists, and splitting under the message limit."""

from __future__ import annotations

import html
import re

from bot.domain import Answer, Citation, Visibility
from bot.telegram.rendering import TELEGRAM_LIMIT, render_answer, render_sources, split_html

TAG = re.compile(r"</?([a-z]+)[^>]*>")


def _citation(n: int, title: str = "Doc <1> & co") -> Citation:
    return Citation(n, f"a{n}.md", title, "Art. 4 <Costs>", "text", 0.9, Visibility.PUBLIC, f"c{n}")


def _balanced(message: str) -> bool:
    stack: list[str] = []
    for match in TAG.finditer(message):
        name = match.group(1)
        if match.group(0).startswith("</"):
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def test_answer_text_and_titles_are_html_escaped() -> None:
    answer = Answer("q", "Costs < 5% & rising [1]", (_citation(1),), True, "en")
    [message] = render_answer(answer)
    assert "Costs &lt; 5% &amp; rising [1]" in message
    assert "<i>Doc &lt;1&gt; &amp; co</i> — Art. 4 &lt;Costs&gt;" in message
    assert "<b>Sources</b>" in message


def test_only_cited_sources_are_listed_in_the_askers_language() -> None:
    answer = Answer("q", "답 [2]", (_citation(1, "First"), _citation(2, "Second")), True, "ko")
    [message] = render_answer(answer)
    assert "<b>출처</b>" in message and "Second" in message and "First" not in message


def test_a_declined_answer_has_no_source_list() -> None:
    [message] = render_answer(Answer("q", "No answer.", (), False, "en"))
    assert message == "No answer."


def test_long_answers_split_under_the_limit_without_broken_tags_or_entities() -> None:
    body = " ".join(f"Sentence {i} says R&D < budget [1]." for i in range(600))
    answer = Answer("q", body, tuple(_citation(i) for i in range(1, 4)), True, "en")
    messages = render_answer(answer)
    assert len(messages) > 1
    for message in messages:
        assert len(message) <= TELEGRAM_LIMIT
        assert _balanced(message)
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", message), "a cut entity"
    joined = html.unescape(" ".join(TAG.sub("", m) for m in messages))
    assert "Sentence 599 says R&D < budget" in joined


def test_a_block_with_markup_longer_than_the_limit_is_cut_as_plain_text() -> None:
    block = "<b>" + html.escape("x&y " * 3000) + "</b>"
    messages = split_html([block], limit=1000)
    assert all(len(m) <= 1000 and "<b>" not in m for m in messages)
    assert sum(m.count("&amp;") for m in messages) == 3000


def test_sources_command_renders_titles_paths_and_short_excerpts() -> None:
    sources = [
        {
            "n": 1,
            "source": "agreements/a.md",
            "title": "A & B",
            "heading": "Art. 1",
            "text": "word " * 500,
        }
    ]
    [message] = render_sources("Who pays?", sources, "en")
    assert "<b>A &amp; B</b>" in message and "<code>agreements/a.md</code>" in message
    assert "…" in message and len(message) < 800

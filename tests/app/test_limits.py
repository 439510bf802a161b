"""Messages kept within what one message may hold: the part that matters is never cut."""

from __future__ import annotations

import html

from bot.app.meetings import captioned
from bot.app.messages import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    length,
    quote_and_split,
    shorten,
    split_text,
)
from bot.i18n import t

WHEN, URL = "Tue 31.3. 09:00–10:00 PDT", "https://meet.jit.si/HanbitRiverton"


def words(text: str) -> list[str]:
    return text.split()


def test_a_long_text_is_split_at_paragraphs_and_loses_nothing() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = split_text(text, TEXT_LIMIT)
    assert len(pieces) > 1 and all(length(p) <= TEXT_LIMIT for p in pieces)
    assert all(p.startswith("Paragraph") for p in pieces), "cut between paragraphs"
    assert words(" ".join(pieces)) == words(text)


def test_a_text_without_spaces_or_with_wide_characters_is_cut_within_the_limit() -> None:
    assert [len(p) for p in split_text("x" * 9000, 4096)] == [4096, 4096, 808]
    emoji = "🙂" * 3000  # two UTF-16 units each, as Telegram may count them
    pieces = split_text(emoji, 4096)
    assert all(length(p) <= 4096 for p in pieces) and "".join(pieces) == emoji
    assert split_text("") == [""] and split_text("short") == ["short"]


def test_shorten_cuts_at_a_word_and_says_so() -> None:
    assert shorten("a short title", 50) == "a short title"
    cut = shorten("the budget review of the joint fund in the second round", 30)
    assert cut == "the budget review of the…" and length(cut) <= 30


def test_an_invite_caption_keeps_its_time_and_link_however_long_the_title() -> None:
    for title in ("&" * 200, "Budget " * 300):
        caption = captioned("meet_invite", "en", title, partner="Riverton", when=WHEN, url=URL)
        assert length(caption) <= CAPTION_LIMIT
        assert WHEN in caption and URL in caption
    # escaped for Telegram's HTML a 200-& title is 1,000 characters, but it is counted parsed
    caption = captioned("meet_invite", "en", "&" * 200, partner="Riverton", when=WHEN, url=URL)
    assert "&" * 200 in caption and len(html.escape(caption)) > CAPTION_LIMIT


def test_a_long_staff_answer_to_a_long_question_keeps_the_whole_answer() -> None:
    question = ("Could you tell me how the exchange grant is paid out? " * 40)[:1909]
    answer = ("The grant is paid in two parts after the final report is approved. " * 60)[:3900]

    def render(quote: str, body: str) -> str:
        return t("staff_answer", "en", question=quote, answer=body, office="the office")

    messages = quote_and_split(render, question, answer)
    assert len(messages) == 2 and all(length(m) <= TEXT_LIMIT for m in messages)
    assert question not in messages[0], "the quoted question is shortened"
    head, _, first = messages[0].partition("”:\n\n")
    assert "…" in head
    assert words(first + " " + messages[1]) == words(answer), "every word of the answer arrives"
    # a question short enough to quote whole beside the answer stays whole, in one message
    assert quote_and_split(render, "When?", answer) == [render("When?", answer)]
    medium = quote_and_split(render, question, answer[:3000])
    assert len(medium) == 1 and answer[:3000] in medium[0] and length(medium[0]) <= TEXT_LIMIT

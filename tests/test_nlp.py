"""Text analysis: stemming from many threads at once, and the language of a question."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import snowballstemmer

from bot.nlp import Analyzer, detect_language

THREADS = 8
# English and German words whose stems differ from the word in different ways (suffixes removed,
# y -> i, umlauts kept); suffixed with letters so that each call is a word the cache has not seen
_BASES = {
    "en": ["organisational", "reviewing", "delegations", "happily", "conditionally", "hopeful"],
    "de": ["vereinbarungen", "partnerschaften", "ausbildungen", "städtischen", "kostenlos"],
}
_TAILS = ["", "s", "ing", "ed", "ness", "ly", "ations", "ful", "ern", "ungen", "lich", "keit"]


def _letters(n: int) -> str:
    """Spell a number in letters (terms are words: digits would be split off)."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out += chr(ord("a") + digit)
        if not n:
            return out


def _words(language: str, thread: int, count: int) -> list[str]:
    """Return `count` different words that no other thread stems and no one has stemmed yet."""
    bases = _BASES[language]
    return [
        f"{_letters(thread)}{_letters(i)}{bases[i % len(bases)]}{_TAILS[i % len(_TAILS)]}"
        for i in range(count)
    ]


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Let the interpreter switch threads often, as a busy bot does, so interleavings happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("frequent_switches")
def test_stemming_from_eight_threads_gives_the_single_threaded_stems() -> None:
    # Analyzer.terms on Latin text never touches Kiwi: only the stemmers are exercised here
    analyzer = Analyzer()
    languages = {thread: "en" if thread % 2 else "de" for thread in range(THREADS)}
    words = {thread: _words(languages[thread], thread, 2000) for thread in range(THREADS)}
    # the expected stems come from a stemmer of the test's own, used by this thread alone
    own = {"en": snowballstemmer.stemmer("english"), "de": snowballstemmer.stemmer("german")}
    expected = {
        thread: [own[languages[thread]].stemWord(w) for w in words[thread]]
        for thread in range(THREADS)
    }
    start = threading.Barrier(THREADS)

    def stem_all(thread: int) -> list[str]:
        start.wait()  # all threads stem at once
        out = []
        for word in words[thread]:
            try:
                out.append(analyzer.terms(word, languages[thread])[0])
            except Exception as exc:  # a stemmer another thread moved on under it
                out.append(f"<{type(exc).__name__}: {exc}>")
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        got = dict(zip(range(THREADS), pool.map(stem_all, range(THREADS)), strict=True))

    for thread in range(THREADS):
        wrong = [
            (w, g, e)
            for w, g, e in zip(words[thread], got[thread], expected[thread], strict=True)
            if g != e
        ]
        assert not wrong, f"thread {thread}: {len(wrong)} wrong stems, e.g. {wrong[:3]}"


@pytest.mark.parametrize(
    ("question", "language"),
    [
        # German questions without "der/die/das": the function words that tell them from English
        ("Wie lange bleiben unsere Auszubildenden beim Austausch in Hanbit?", "de"),
        ("Um wie viel Uhr beginnt es?", "de"),
        ("Wo findet das Forum statt?", "de"),
        ("How long do our trainees stay in Hanbit?", "en"),
        ("Who signed it in 2019?", "en"),
        ("Thực tập sinh ở Hanbit bao lâu?", "vi"),
        ("연수생은 한빛시에 얼마나 머무나요?", "ko"),
    ],
)
def test_the_language_of_a_question(question: str, language: str) -> None:
    assert detect_language(question) == language

"""Chunking keeps sentences whole, stays under the token budget, overlaps, and keeps headings."""

from __future__ import annotations

from bot.domain import DocMeta, Section, Visibility
from bot.knowledge.chunking import approx_tokens, chunk_document, chunk_id
from bot.nlp import Analyzer

META = DocMeta(source="a.md", title="Manual", visibility=Visibility.PUBLIC)


def test_korean_sentences_are_never_split_and_chunks_stay_under_budget(analyzer: Analyzer) -> None:
    sentences = [f"{i}번째 문장에서 한빛시는 자매도시와 청소년 교류를 확대한다." for i in range(40)]
    section = Section(("교류", "제2조(분야)"), " ".join(sentences))
    chunks = chunk_document(META, [section], analyzer, max_tokens=80, overlap_sentences=1)
    assert len(chunks) > 3
    for chunk in chunks:
        assert approx_tokens(chunk.text) <= 80 + 5
        for sentence in chunk.sentences:
            assert sentence in sentences
        assert chunk.heading == "교류 > 제2조(분야)"


def test_neighbouring_chunks_share_the_overlap_sentence(analyzer: Analyzer) -> None:
    text = " ".join(
        f"Sentence number {i} explains one rule of the youth exchange." for i in range(30)
    )
    chunks = chunk_document(
        META, [Section(("Rules",), text)], analyzer, max_tokens=60, overlap_sentences=1
    )
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.sentences[-1] == after.sentences[0]


def test_chunks_never_cross_sections(analyzer: Analyzer) -> None:
    sections = [Section(("A",), "Alpha one. Alpha two."), Section(("B",), "Beta one. Beta two.")]
    chunks = chunk_document(META, sections, analyzer, max_tokens=200)
    assert [c.heading for c in chunks] == ["A", "B"]
    assert chunks[1].text == "Beta one. Beta two."


def test_mixed_korean_english_text_is_split_into_sentences(analyzer: Analyzer) -> None:
    got = analyzer.split_sentences(
        "협정은 2019년에 체결되었다. The MOU was renewed in 2024. 검토 주기는 3년이다."
    )
    assert got == [
        "협정은 2019년에 체결되었다.",
        "The MOU was renewed in 2024.",
        "검토 주기는 3년이다.",
    ]


def test_an_overlong_run_without_punctuation_is_cut_on_word_boundaries(analyzer: Analyzer) -> None:
    table = " ".join(f"항목{i} | {i * 1000}원 | 비고" for i in range(200))
    chunks = chunk_document(META, [Section((), table)], analyzer, max_tokens=100)
    assert len(chunks) > 5
    assert all(approx_tokens(c.text) <= 110 for c in chunks)


def test_chunk_ids_are_stable_and_change_with_text() -> None:
    assert chunk_id("a.md", 0, "x") == chunk_id("a.md", 0, "x")
    assert chunk_id("a.md", 0, "x") != chunk_id("a.md", 0, "y")
    assert chunk_id("a.md", 0, "x") != chunk_id("b.md", 0, "x")


def test_terms_are_korean_morphemes_and_stemmed_words(analyzer: Analyzer) -> None:
    assert {"청소년", "교류", "비용", "부담"} <= set(
        analyzer.terms("청소년 교류 비용은 누가 부담하나요?")
    )
    # Snowball stems: "costs" and "cost" meet, as do "reviewed" and "review"
    assert {"cost", "youth", "exchang"} <= set(
        analyzer.terms("Who pays the costs of the youth exchange?")
    )
    assert "the" not in analyzer.terms("the the the")
    assert analyzer.terms("reviewed every three years") == analyzer.terms("review every three year")
    assert analyzer.terms("Kooperationsfonds", "de") == analyzer.terms("Kooperationsfond", "de")

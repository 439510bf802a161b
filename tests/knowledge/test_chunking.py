"""Chunking keeps sentences whole, stays under the token budget, overlaps, and keeps headings."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "신청 기간: 2026. 5. 18.(월) ~ 6. 5.(금) 18:00까지이다. 설명회는 따로 연다.",
            ["신청 기간: 2026. 5. 18.(월) ~ 6. 5.(금) 18:00까지이다.", "설명회는 따로 연다."],
        ),
        (
            "- 근거: 2026년도 본예산 (2025. 12. 16. 시의회 의결)\n\n"
            "기금이 2027. 12. 31. 만료 예정이다. 2026. 5. 중 협의한다.\n\n"
            "기간: 2026. 7. 22. 장소: 한빛시청\n\n- 2026. 9. 중: 도서 발송, 10. 중: 서가 개설",
            [
                "- 근거: 2026년도 본예산 (2025. 12. 16. 시의회 의결)",
                "기금이 2027. 12. 31. 만료 예정이다.",
                "2026. 5. 중 협의한다.",
                "기간: 2026. 7. 22.",
                "장소: 한빛시청",
                "- 2026. 9. 중: 도서 발송, 10. 중: 서가 개설",
            ],
        ),
        (
            "Die Vereinbarung gilt bis zum 31. Dezember 2027. Sie wurde am 14. März unterzeichnet.",
            [
                "Die Vereinbarung gilt bis zum 31. Dezember 2027.",
                "Sie wurde am 14. März unterzeichnet.",
            ],
        ),
        (
            "Das Büro liegt im 3. Stock. Bitte z. B. per E-Mail anmelden. Danach folgt Schritt 2.",
            [
                "Das Büro liegt im 3. Stock.",
                "Bitte z. B. per E-Mail anmelden.",
                "Danach folgt Schritt 2.",
            ],
        ),
        (
            "Hội thảo do TP. Biên Hòa tổ chức. Có 40 người tham dự.",
            ["Hội thảo do TP. Biên Hòa tổ chức.", "Có 40 người tham dự."],
        ),
        (
            "Contact Mr. J. Smith (No. 5) at 9 a.m. tomorrow. He agreed.",
            ["Contact Mr. J. Smith (No. 5) at 9 a.m. tomorrow.", "He agreed."],
        ),
        (
            "3. 항공권 구매\n가. 항공권은 30일 전까지 산다.",
            ["3. 항공권 구매", "가. 항공권은 30일 전까지 산다."],
        ),
    ],
    ids=[
        "korean-date",
        "korean-date-words",
        "german-date",
        "german-ordinal",
        "vietnamese",
        "english",
        "korean-list",
    ],
)
def test_dates_ordinals_and_abbreviations_do_not_end_a_sentence(
    analyzer: Analyzer, text: str, sentences: list[str]
) -> None:
    assert analyzer.split_sentences(text) == sentences


def test_circled_numbers_cut_a_statutes_clauses_not_an_enumeration(analyzer: Analyzer) -> None:
    text = (
        "① 항공료는 파견하는 도시가 부담한다. ② 접수하는 도시는 숙박비를 부담한다.\n\n"
        "감액 우선순위는\n① 홍보 및 기념품\n② 국제포럼·웨비나\n③ 해외 대표단 초청 순으로 한다."
    )
    assert analyzer.split_sentences(text) == [
        "① 항공료는 파견하는 도시가 부담한다.",
        "② 접수하는 도시는 숙박비를 부담한다.",
        "감액 우선순위는 ① 홍보 및 기념품 ② 국제포럼·웨비나 ③ 해외 대표단 초청 순으로 한다.",
    ]


def test_labelled_lines_are_fields_of_their_own(analyzer: Analyzer) -> None:
    # a memo's header has no full stops: its lines ran on into one sentence
    text = (
        "To: Director, International Exchange Division\nFrom: Song Ha-eun, Legal Affairs Officer\n"
        "Status: INTERNAL, not for\ndisclosure\n- 주최: 한빛시\n  주관: 한빛교통공사\n\n"
        "The call starts at\n16:00 KST, see\nhttps://meet.hanbit.example.org: room 2."
    )
    assert analyzer.split_sentences(text) == [
        "To: Director, International Exchange Division",
        "From: Song Ha-eun, Legal Affairs Officer",
        "Status: INTERNAL, not for disclosure",
        "- 주최: 한빛시 / 주관: 한빛교통공사",  # indented under its item, it stays with it
        "The call starts at 16:00 KST, see https://meet.hanbit.example.org: room 2.",
    ]


def test_a_list_item_keeps_its_indented_lines(analyzer: Analyzer) -> None:
    text = "- e-Asia 지식협력 기금\n  - 분야: 정보통신, 전자정부\n  - 규모: 402억\n- 다른 기금"
    assert analyzer.split_sentences(text) == [
        "- e-Asia 지식협력 기금 / - 분야: 정보통신, 전자정부 / - 규모: 402억",
        "- 다른 기금",
    ]


@pytest.mark.parametrize(
    "table",
    [
        "| 항목 | 금액 | 비고 |\n| --- | --- | --- |\n| 공동기금 | 8,400만 원 | 2만 유로 |",
        "항목 | 금액 | 비고\n\n공동기금 | 8,400만 원 | 2만 유로",  # as the DOCX/HTML/HWP loaders give it
        # a plain-text table aligned as shown: Hangul is two columns wide
        "  항목      금액          비고\n  --------  ------------  --------\n"
        "  공동기금  8,400만 원    2만 유로\n  --------  ------------  --------",
    ],
    ids=["markdown", "loader-rows", "plain-text"],
)
def test_a_table_row_is_one_sentence_of_header_value_pairs(analyzer: Analyzer, table: str) -> None:
    assert analyzer.split_sentences(table) == ["항목: 공동기금; 금액: 8,400만 원; 비고: 2만 유로"]


def test_a_short_german_sentence_is_stemmed_as_its_document_is(analyzer: Analyzer) -> None:
    # "Unterzeichnet in Hanbit am 8. Oktober 2024." alone reads as English to detect_language;
    # stemmed as English it keeps "unterzeichnet" and misses the question's German "unterzeichn"
    meta = DocMeta(
        source="z.md", title="Zusatzvereinbarung", language="de", visibility=Visibility.PUBLIC
    )
    sections = [Section(("Unterzeichnung",), "Unterzeichnet in Hanbit am 8. Oktober 2024.")]
    (chunk,) = chunk_document(meta, sections, analyzer)
    asked = set(analyzer.terms("Wann wurde die Zusatzvereinbarung unterzeichnet?"))
    assert "unterzeichn" in asked
    assert "unterzeichn" in chunk.sentence_terms[0]  # the sentence's own word
    assert chunk.tokens.count("unterzeichn") >= 2  # and its heading's, "Unterzeichnung"


def test_a_heading_that_restates_the_title_is_indexed_but_not_shown(analyzer: Analyzer) -> None:
    meta = DocMeta(
        source="y.hwpx", title="청소년 국제교류 프로그램 운영 안내", visibility=Visibility.PUBLIC
    )
    sections = [
        Section(
            ("2026년 청소년 국제교류 프로그램 운영 안내", "3. 파견 규모"), "총 16명을 파견한다."
        )
    ]
    (chunk,) = chunk_document(meta, sections, analyzer)
    assert chunk.heading == "3. 파견 규모"
    assert "2026" in chunk.tokens and "파견" in chunk.tokens

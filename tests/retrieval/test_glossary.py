"""The glossary: city names from the partner directory (expansion across scripts, named cities)
and the office vocabulary shipped in terms.tsv with an office's own additions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.domain import Asker
from bot.nlp import Analyzer, detect_language
from bot.retrieval.glossary import (
    RENDERING_WEIGHT,
    Glossary,
    Translation,
    concept_coverage,
    load_vocabulary,
    read_terms,
)
from bot.services import Services
from tests.conftest import write
from tests.scheduling import write_directory


def test_a_korean_name_expands_to_its_latin_spellings(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    expanded = glossary.expand(analyzer.terms("뒤셀도르프 협정"))
    assert "düsseldorf" in expanded or "dusseldorf" in expanded
    assert expanded[:2] == analyzer.terms("뒤셀도르프 협정")


def test_partner_cities_are_recognised_in_any_language_and_the_home_city_is_not_one(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    assert glossary.cities(analyzer.terms("Who signed the Bien Hoa agreement?")) == {"bien hoa"}
    assert glossary.cities(analyzer.terms("비엔호아 협정은 언제 체결됐나요?")) == {"bien hoa"}
    # the key CityNames gives Düsseldorf, however it is spelt
    assert glossary.cities(analyzer.terms("Wie hoch ist der Fonds mit Düsseldorf?")) == {
        "dusseldorf"
    }
    assert glossary.cities(analyzer.terms("What is Hanbit's budget?")) == set()


def test_a_korean_name_is_known_as_kiwi_reads_it_in_a_sentence(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    # alone, Kiwi reads 비엔호아 as 비엔호 and a vocative 아; in these sentences as one word, or
    # one word with 시
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    for question in ("2026년 비엔호아 공동 사업 예산은?", "비엔호아시와 협력한 사업은?"):
        terms = analyzer.terms(question)
        assert "비엔호" not in terms, terms
        assert glossary.cities(terms) == {"bien hoa"}, terms
        assert {"bien", "hoa"} <= set(glossary.expand(terms)), glossary.expand(terms)
    # the home city's name adds no whole-word spellings (nearly every passage names it)
    assert "한빛시" not in glossary.expand(["hanbit"])


def test_a_missing_directory_gives_an_empty_glossary(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(tmp_path / "none.yaml", analyzer)
    assert glossary.expand(["x"]) == ["x"] and glossary.cities(["x"]) == set()


def test_names_are_code_switched_into_the_other_script(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    assert (
        glossary.code_switch("비엔호아시와 한빛의 협정은?", hangul=False)
        == "Bien Hoa시와 Hanbit의 협정은?"
    )
    assert (
        glossary.code_switch("Who pays when DÜSSELDORF visits Biên Hòa?", hangul=True)
        == "Who pays when 뒤셀도르프 visits 비엔호아?"
    )
    # a Latin name is switched only as a whole word; text without a known name is unchanged
    assert glossary.code_switch("the Hanbitpass card", hangul=True) == "the Hanbitpass card"
    assert glossary.code_switch("파리 협정", hangul=False) == "파리 협정"
    empty = Glossary.from_directory(tmp_path / "none.yaml", analyzer)
    assert empty.code_switch("비엔호아", hangul=False) == "비엔호아"


# -- the office vocabulary (terms.tsv, GLOSSARY_FILE) ----------------------------------------


def _vocabulary_glossary(analyzer: Analyzer, extra: Path | None = None) -> Glossary:
    return Glossary([], analyzer, vocabulary=load_vocabulary(extra))


def _renderings(glossary: Glossary, analyzer: Analyzer, question: str) -> set[frozenset[str]]:
    terms = analyzer.terms(question)
    translations = glossary.translations(terms, detect_language(question), question=question)
    return {r for tr in translations for r in tr.renderings}


def test_the_shipped_vocabulary_renders_office_words_in_the_other_languages(
    analyzer: Analyzer,
) -> None:
    glossary = _vocabulary_glossary(analyzer)
    assert glossary.size >= 300
    # Kiwi's terms of a Korean compound (자매도시: 자매 + 도시) meet the stemmed English and German
    korean = _renderings(glossary, analyzer, "자매도시 협정의 유효기간은 몇 년인가요?")
    assert frozenset({"sister", "citi"}) in korean and frozenset({"partnerstadt"}) in korean
    assert frozenset({"agreement"}) in korean and frozenset({"gultig"}) in korean
    english = _renderings(glossary, analyzer, "What is the per diem on overseas business trips?")
    assert frozenset({"일비"}) in english and frozenset({"tagegeld"}) in english
    assert frozenset({"국외", "출장"}) in english
    # a word Kiwi cuts differently at a text's end (웨비 alone, 웨비나 in a sentence) is found
    assert frozenset({"webinar"}) in _renderings(
        glossary, analyzer, "웨비나 녹화본은 어디서 보나요?"
    )
    assert frozenset({"webinar"}) in _renderings(glossary, analyzer, "웨비나")


def test_renderings_are_in_other_languages_and_phrases_of_the_questions_language_only(
    analyzer: Analyzer,
) -> None:
    glossary = _vocabulary_glossary(analyzer)
    renderings = _renderings(glossary, analyzer, "How long is the sister city agreement valid?")
    assert frozenset({"자매", "도시"}) in renderings
    assert frozenset({"sister", "citi"}) not in renderings  # its own words are no rendering
    # Vietnamese "ai" is "who": it is not the English AI of the vocabulary
    who = _renderings(glossary, analyzer, "Ai phụ trách chương trình homestay?")
    assert frozenset({"인공", "지능"}) not in who and frozenset({"홈스테이"}) in who
    assert frozenset({"인공", "지능"}) in _renderings(glossary, analyzer, "Which city uses AI?")


def test_a_vietnamese_phrase_is_found_only_with_its_syllables_side_by_side(
    analyzer: Analyzer,
) -> None:
    glossary = _vocabulary_glossary(analyzer)
    visa = frozenset({"비자"})
    assert visa in _renderings(glossary, analyzer, "Thực tập sinh có cần thị thực không?")
    # thị (of tòa thị chính, city hall) and thực (of thực tập, internship) are no thị thực
    scattered = "Tòa thị chính có nhận thực tập sinh không?"
    assert visa not in _renderings(glossary, analyzer, scattered)


def test_an_office_file_adds_its_groups_to_the_shipped_ones(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    office = tmp_path / "glossary.tsv"
    office.write_text(
        "# our own words\nko\ten\tvi\n한빛패스 | 한빛 패스\tHanbit Pass\tthẻ Hanbit Pass\n", "utf-8"
    )
    shipped = _vocabulary_glossary(analyzer)
    glossary = _vocabulary_glossary(analyzer, office)
    assert glossary.size == shipped.size + 1
    assert frozenset({"hanbit", "pass"}) in _renderings(glossary, analyzer, "한빛패스 요금은?")
    assert frozenset({"hanbit", "pass"}) not in _renderings(shipped, analyzer, "한빛패스 요금은?")


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing
        "korean\tenglish\n자매도시\tsister city\n",  # a header that names no languages
        "ko\ten\n자매도시\tsister city\tPartnerstadt\n",  # more cells than the header
    ],
)
def test_a_missing_or_broken_office_file_is_a_warning_and_the_shipped_glossary_works(
    tmp_path: Path, analyzer: Analyzer, caplog: pytest.LogCaptureFixture, content: str | None
) -> None:
    office = tmp_path / "glossary.tsv"
    if content is not None:
        office.write_text(content, "utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.glossary"):
        glossary = _vocabulary_glossary(analyzer, office)
    assert any(str(office) in r.getMessage() for r in caplog.records)
    assert glossary.size == len(load_vocabulary())
    assert frozenset({"일비"}) in _renderings(glossary, analyzer, "What is the per diem?")


def test_read_terms_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "g.tsv"
    bad.write_text(
        "ko\ten\n\n# a comment\n자매도시\tsister city\n교류\texchange\tAustausch\n", "utf-8"
    )
    with pytest.raises(ValueError, match=r"g\.tsv:5"):
        read_terms(bad)


def test_the_glossary_setting_defaults_to_none_and_takes_a_path(tmp_path: Path) -> None:
    assert Settings(_env_file=None).glossary_file is None  # type: ignore[call-arg]
    assert Settings(_env_file=None, glossary_file="").glossary_file is None  # type: ignore[call-arg]
    path = tmp_path / "g.tsv"
    assert Settings(_env_file=None, glossary_file=str(path)).glossary_file == path  # type: ignore[call-arg]


def test_a_rendering_counts_part_of_the_asked_words_weight() -> None:
    weights = {"sister": 2.0, "citi": 1.0, "valid": 1.0}
    sister_city = Translation(
        frozenset({"sister", "citi"}), (frozenset({"자매", "도시"}),), {"ko": ("자매도시",)}
    )
    # the question's own words count whole, as plain coverage does
    assert concept_coverage(weights, [sister_city], {"sister", "citi", "valid"}) == 1.0
    assert concept_coverage(weights, [sister_city], {"valid"}) == 0.25
    # the whole rendering in a passage: the asked phrase's weight at RENDERING_WEIGHT
    assert concept_coverage(weights, [sister_city], {"자매", "도시", "valid"}) == pytest.approx(
        (1.0 + RENDERING_WEIGHT * 3.0) / 4.0
    )
    assert concept_coverage(weights, [sister_city], {"자매", "valid"}) == 0.25  # half a rendering
    assert concept_coverage(weights, [sister_city], {"자매", "도시"}, rendering_weight=0.0) == 0.0
    assert concept_coverage({}, [sister_city], {"자매", "도시"}) == 0.0


# -- retrieval across languages through the vocabulary (real embedder, real Chroma) -----------

CORPUS = {
    "sister.md": (
        "ko",
        "자매도시 협정",
        "## 제5조 유효기간\n\n이 협정은 서명한 날부터 효력을 가지며 유효기간은 5년으로 하고 "
        "자동으로 갱신된다.",
    ),
    "register.md": (
        "en",
        "Agreements register",
        "## Register\n\nThe office keeps the register of every sister city agreement, with its "
        "signing date and the names of the signatories.",
    ),
    "lodging.md": (
        "ko",
        "국내 숙박 기준",
        "## 숙박\n\n국내 행사 참가자의 숙박은 시청 인근 호텔 2인 1실로 배정하고 객실 요금은 "
        "시가 부담한다.",
    ),
    "per-diem.md": (
        "ko",
        "국외출장 여비 기준",
        "## 일비\n\n국외출장 공무원의 일비는 하루 미화 60달러로 하며 출발일부터 귀국일까지 "
        "지급한다.",
    ),
}


@pytest.fixture
def small_store(tmp_path: Path, make_services) -> Services:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    for name, (language, title, body) in CORPUS.items():
        front = f"---\ntitle: {title}\nvisibility: public\nlanguage: {language}\n---\n"
        write(corpus / name, f"{front}# {title}\n\n{body}\n")
    services: Services = make_services()
    services.ingestor.ingest([corpus])
    return services


def test_an_english_question_finds_the_korean_passage_through_the_glossary(
    small_store: Services,
) -> None:
    question = "How long is the sister city agreement valid?"
    retriever = small_store.retriever
    with_glossary = retriever.retrieve(question, Asker.staff(), 3)
    assert with_glossary.hits[0].chunk.doc.source == "sister.md"
    assert with_glossary.translations  # the question's office words and their renderings
    retriever.rendering_weight = 0.0  # the vocabulary unused: the English register comes first
    without = retriever.retrieve(question, Asker.staff(), 3)
    assert without.hits[0].chunk.doc.source == "register.md"
    assert not without.translations
    # the sentence quoted is the Korean article that answers, not its heading
    retriever.rendering_weight = RENDERING_WEIGHT
    answer = small_store.answerer.answer(question, Asker.staff())
    assert answer.grounded and "5년" in answer.text


def test_the_glossary_pull_adds_no_embedding_to_a_question_once_its_renderings_are_known(
    small_store: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = small_store.retriever
    retriever._renderings.clear()  # as on another model: none shipped, embedded on first use
    embedded: list[list[str]] = []
    real = retriever.embedder.embed_queries

    def counting(texts: list[str]) -> np.ndarray:
        embedded.append(list(texts))
        return real(texts)

    monkeypatch.setattr(retriever.embedder, "embed_queries", counting)
    # with GLOSSARY_PULL=0 the renderings only count in keyword coverage
    monkeypatch.setattr(retriever, "rendering_pull", 0.0)
    retriever.retrieve("What is the per diem on overseas trips?", Asker.staff(), 3)
    assert embedded == [["What is the per diem on overseas trips?"]]
    embedded.clear()
    retriever.rendering_pull = 0.3  # the vector for Korean passages moves toward 일비, 국외출장
    hits = retriever.retrieve("What is the per diem on overseas trips?", Asker.staff(), 3).hits
    assert hits[0].chunk.doc.source == "per-diem.md"
    first = embedded[-1]
    assert first[0] == "What is the per diem on overseas trips?" and "일비" in first[1:]
    retriever.retrieve("Per diem for overseas trips?", Asker.staff(), 3)
    assert embedded[-1] == ["Per diem for overseas trips?"]  # one call, one text
    assert len(embedded) == 2


def test_a_korean_question_is_pulled_toward_each_collections_own_renderings(
    tmp_path: Path, make_services, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    docs = {
        "ko.md": ("ko", "국외출장 여비", "국외출장 공무원의 일비는 하루 미화 60달러로 한다."),
        "en.md": ("en", "Travel rules", "The per diem for an overseas trip is USD 60 a day."),
        "vi.md": ("vi", "Quy định công tác", "Phụ cấp ngày cho học viên là 300.000 đồng mỗi ngày."),
    }
    for name, (language, title, body) in docs.items():
        front = f"---\ntitle: {title}\nvisibility: public\nlanguage: {language}\n---\n"
        write(corpus / name, f"{front}# {title}\n\n{body}\n")
    services: Services = make_services()
    services.ingestor.ingest([corpus])
    retriever = services.retriever
    retriever._renderings.clear()  # as on another model: none shipped, embedded on first use
    embedded: list[str] = []
    real = retriever.embedder.embed_queries

    def counting(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(retriever.embedder, "embed_queries", counting)
    vectors = retriever._query_vectors(
        "일비는 얼마예요?",
        retriever.glossary.translations({"일비"}, "ko", question="일비는 얼마예요?"),
    )
    # the Vietnamese passages are asked toward the Vietnamese rendering, the English toward the
    # English one: two vectors for the two Latin-script collections, not one
    assert "phụ cấp ngày" in embedded and "per diem" in embedded
    assert not np.allclose(vectors["vi"], vectors["en"])
    assert np.allclose(vectors["ko"], real(["일비는 얼마예요?"])[0])

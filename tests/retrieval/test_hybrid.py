"""Fusion and ranking: RRF, the per-document spread, and questions across languages."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import Asker, Chunk, DocMeta, Hit, Role, Visibility
from bot.retrieval.access import AccessScope
from bot.retrieval.glossary import Glossary
from bot.retrieval.hybrid import (
    MIN_VISIBLE,
    PER_DOCUMENT,
    WIDE_N,
    YEAR_BOOST,
    HybridRetriever,
    _spread,
    rrf,
    says_years,
)
from bot.services import Services


def test_rrf_rewards_ids_ranked_well_in_both_lists() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a", "d"]], k=60)
    assert max(fused, key=fused.__getitem__) == "a"
    assert fused["c"] > fused["b"] > fused["d"] > 0
    assert fused["b"] == pytest.approx(1 / 62)


def _chunk(cid: str, source: str, language: str = "en") -> Chunk:
    meta = DocMeta(source=source, title=source, visibility=Visibility.PUBLIC)
    return Chunk(
        id=cid, doc=meta, ordinal=0, heading="", text=cid, sentences=(cid,), language=language
    )


def _ranked(*ids: str) -> list[tuple[str, float]]:
    return [(cid, 1.0 - i / 100) for i, cid in enumerate(ids)]


def test_one_document_does_not_fill_the_top_k_while_others_wait() -> None:
    ranked = _ranked("m0", "m1", "m2", "m3", "m4", "x", "y")
    languages = {"x": "ko", "y": "de"}
    chunks = {
        cid: _chunk(cid, "manual.md" if cid[0] == "m" else f"{cid}.md", languages.get(cid, "en"))
        for cid, _ in ranked
    }
    top = [cid for cid, _ in _spread(ranked, chunks, 5)]
    assert top[:PER_DOCUMENT] == ["m0", "m1"]
    assert top[PER_DOCUMENT : PER_DOCUMENT + 2] == ["x", "y"]
    assert top[4] == "m2", "with no other document left, the manual's next passage follows"


def test_one_language_does_not_fill_the_top_k_while_others_wait() -> None:
    ranked = _ranked("a", "b", "c", "d", "e", "f", "v")
    chunks = {cid: _chunk(cid, f"{cid}.md", "vi" if cid == "v" else "ko") for cid, _ in ranked}
    top = [cid for cid, _ in _spread(ranked, chunks, 5)]
    assert top[:3] == ["a", "b", "c"]  # a 0.6 share of five
    assert top[3] == "v", "the best passage in another language gets a place"
    assert top[4] == "d"


def test_one_document_alone_still_gives_k_passages() -> None:
    ranked = _ranked("m0", "m1", "m2", "m3", "m4", "m5")
    chunks = {cid: _chunk(cid, "manual.md") for cid, _ in ranked}
    assert [cid for cid, _ in _spread(ranked, chunks, 5)] == ["m0", "m1", "m2", "m3", "m4"]


@pytest.mark.parametrize(
    ("question", "source"),
    [
        # Korean question, English PDF
        (
            "교사 교류 프로그램으로 리버턴에 가는 교사의 월 생활비는?",
            "agreements/riverton-education-mou-2023.pdf",
        ),
        # English question, Korean HWPX
        (
            "What does the Darkhan MOU say about who pays for the trainees' flights?",
            "agreements/darkhan-cooperation-mou-2024.hwpx",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_a_question_finds_the_document_in_another_language_first(
    sample_services: Services, question: str, source: str, mode: str
) -> None:
    hits = sample_services.retriever.retrieve(question, Asker.staff(), 5, mode=mode).hits
    assert hits[0].chunk.doc.source == source
    assert hits[0].chunk.language != ("ko" if question[0] >= "가" else "en")


@pytest.mark.parametrize(
    ("question", "source"),
    [
        # English question about Darkhan, Korean manual that spells it 다르항
        (
            "Which city code goes into the meeting room name for a call with Darkhan?",
            "manuals/video-meeting-manual.md",
        ),
        # Korean question about 리버턴, English proceedings that spell it Riverton
        (
            "리버턴 산불 대응 웨비나에는 총 몇 명이 들어왔나요?",
            "proceedings/riverton-wildfire-resilience-webinar-2025.docx",
        ),
    ],
)
def test_passages_in_the_other_script_are_asked_with_the_names_as_they_spell_them(
    sample_services: Services, question: str, source: str
) -> None:
    retriever = sample_services.retriever

    def best(glossary: Glossary) -> float:
        plain = HybridRetriever(
            retriever.store,
            retriever.vectors,
            retriever.keywords,
            retriever.embedder,
            retriever.analyzer,
            glossary=glossary,
        )
        hits = plain.retrieve(question, Asker.staff(), 40, mode="dense").hits
        return max(h.dense or 0.0 for h in hits if h.chunk.doc.source == source)

    without = best(Glossary([], retriever.analyzer))
    assert best(retriever.glossary) > without + 0.03


def test_a_small_language_is_not_asked_again_with_the_filter_and_finds_the_same(
    sample_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection smaller than the wide query comes back whole: the access filter's query
    (tens of ms at scale) would find nothing more, so it is not asked, and the passages are
    those it would have found."""
    retriever = sample_services.retriever
    vectors = retriever.vectors
    small = [lang for lang in vectors.languages if vectors.count_of(lang) < WIDE_N]
    assert small, "the sample store has a language with fewer units than the wide query"
    filtered: list[str] = []
    query = vectors.query

    def spy(vector: Any, n: int, where: Any, language: str) -> list[tuple[str, float, int]]:
        if where is not None:
            filtered.append(language)
        return query(vector, n, where, language)

    monkeypatch.setattr(vectors, "query", spy)
    seen = 0
    # the sample's German passages are for Düsseldorf's officials, the Vietnamese for Bien Hoa's
    for asker, question in [
        (Asker(Role.PUBLIC), "Wie hoch ist die Gebühr für den Dolmetscher?"),
        (Asker(Role.PARTNER, "Düsseldorf"), "Wer bezahlt die Flüge der Delegation?"),
        (Asker(Role.PARTNER, "Bien Hoa"), "Ai trả chi phí chỗ ở cho đoàn?"),
    ]:
        scope = AccessScope(asker, retriever.keywords.names)
        where = scope.chroma_where(retriever.keywords.spellings(scope.city))
        query_vectors = retriever._query_vectors(question)
        found = retriever._dense(query_vectors, scope)
        languages = {cid: c.language for cid, c in retriever.store.chunks(list(found)).items()}
        for language in small:
            # as before: the visible among the wide query's, else the filtered query's
            vector = query_vectors[language]
            wide = query(vector, WIDE_N, None, language)
            visible = retriever.keywords.visible([cid for cid, _, _ in wide], scope)
            expected = [m for m, ok in zip(wide, visible, strict=True) if ok]
            if len(expected) < min(MIN_VISIBLE, len(wide)):
                expected = query(vector, retriever.candidates, where, language)
                seen += 1
            got = {cid: hit for cid, hit in found.items() if languages[cid] == language}
            assert got == {
                cid: (pytest.approx(score, abs=1e-6), row)
                for cid, score, row in expected[: retriever.candidates]
            }
        assert not set(filtered) & set(small)
    assert seen, "the filtered query would have been asked before"


def test_a_passage_that_gives_the_year_asked_comes_first(
    sample_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "the partnership agreement of 2019": the 2024 supplementary agreement is nearer in meaning,
    # the 2019 agreement is the one that says 2019
    question = (
        "Für wie viele Nächte übernimmt die Gaststadt laut dem Partnerschaftsvertrag von 2019 "
        "höchstens die Unterkunft?"
    )
    retriever = sample_services.retriever

    def ranked(boost: float) -> list[Hit]:
        monkeypatch.setattr(retriever, "year_boost", boost)
        return retriever.retrieve(question, Asker.staff(), 5).hits

    def agreement(hits: list[Hit]) -> int:
        sources = [h.chunk.doc.source for h in hits]
        return sources.index("agreements/duesseldorf-sister-city-agreement.md")

    without = ranked(0.0)
    assert agreement(without) > 0  # on meaning and keywords alone the 2024 supplement is first
    assert agreement(ranked(YEAR_BOOST)) <= agreement(without)
    lifted = ranked(1.0)  # a large bonus: only passages that say 2019 come first
    assert all(says_years(h.chunk, {"2019"}) for h in lifted[:3]), [h.chunk.text for h in lifted]
    plain = question.replace(" von 2019", "")
    monkeypatch.setattr(retriever, "year_boost", 0.0)
    before = [h.chunk.id for h in retriever.retrieve(plain, Asker.staff(), 5).hits]
    monkeypatch.setattr(retriever, "year_boost", YEAR_BOOST)
    assert [h.chunk.id for h in retriever.retrieve(plain, Asker.staff(), 5).hits] == before

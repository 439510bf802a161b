"""Near misses by their detail words: the subject is in the documents (the signing of the
agreement with Düsseldorf), the detail asked (the interpreter at the signing) is not. A detail
phrase of the office glossary must be in what the answer quotes, in some language; on a real
store (real embedder, real Chroma), each near miss is declined and the answerable question beside
it answered."""

from __future__ import annotations

from typing import Any

import pytest

from bot.answering.extractive import Evidence
from bot.domain import Asker
from bot.nlp import detect_language
from bot.retrieval.hybrid import Retrieval
from bot.services import Services
from tests.conftest import services_over

DOCS = {
    "signing.md": (
        "---\ntitle: 한빛–뒤셀도르프 자매도시 협정 체결 결과\nvisibility: public\nlanguage: ko\n---\n"
        "# 체결\n\n한빛시와 뒤셀도르프시의 자매도시 협정은 2019년 5월 3일 한빛시청 대회의실에서 "
        "체결되었다. 한빛시장 김한빛과 뒤셀도르프 시장 Stephan Keller가 협정서에 서명하였다. "
        "협정서는 한국어와 독일어로 각 2부를 작성하였다.\n"
    ),
    "visit.md": (
        "---\ntitle: 2024 뒤셀도르프 대표단 방문 결과\nvisibility: public\nlanguage: ko\n---\n"
        "# 통역\n\n2024년 뒤셀도르프 대표단 방문 때 통역사 이지은 씨가 한국어-독일어 순차 통역을 "
        "맡았다. 대표단은 8명이었다.\n"
    ),
    "forum.md": (
        "---\ntitle: 2025 청소년 포럼 결과\nvisibility: public\nlanguage: ko\n---\n# 개요\n\n"
        "- 기간: 2025. 8. 5. ~ 8. 8.\n- 장소: 한빛청소년수련원\n- 참가: 4개 도시 청소년 48명\n"
    ),
}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, embedder: Any, analyzer: Any) -> Any:
    built = services_over(tmp_path_factory, "detail-words", DOCS, embedder, analyzer)
    yield built
    built.close()


def judged(services: Services, question: str, without: str = "") -> Evidence:
    """The judge's verdict on the real retrieval, less one document's passages."""
    found = services.retriever.retrieve(question, Asker.staff(), 5)
    hits = [h for h in found.hits if h.chunk.doc.source != without]
    retrieval = Retrieval(
        hits,
        found.best_dense,
        found.weights,
        found.query_vectors,
        found.translations,
        found.rendering_weight,
    )
    return services.extractive.judge.judge(question, retrieval)


def test_a_detail_phrase_no_quoted_passage_holds_in_any_language_declines(
    services: Services,
) -> None:
    # the signing is there (who signed, where, when), not an interpreter: the signatories were
    # quoted for "who was the interpreter at the signing"
    question = "Ai là phiên dịch viên tại lễ ký thỏa thuận kết nghĩa Hanbit–Düsseldorf năm 2019?"
    near = judged(services, question, "visit.md")
    assert not near.grounded and near.missing_details == ("dịch phiên viên",), near
    assert near.best_dense >= services.extractive.judge.min_relevance, "declined for the detail"
    assert not (near.unknown_names or near.missing_years or near.missing_kind), near
    # the answerable question beside it: the interpreter is in a passage, as 통역사
    answer = services.answerer.answer(
        "Ai là phiên dịch viên cho đoàn đại biểu Düsseldorf năm 2024?", Asker.staff()
    )
    assert answer.grounded and "이지은" in answer.text, answer.text
    # and where it was signed: "tại đâu" (where) asks, "ký" (signed) is met, as 서명/체결
    answer = services.answerer.answer(
        "Thỏa thuận kết nghĩa Hanbit–Düsseldorf năm 2019 được ký tại đâu?", Asker.staff()
    )
    assert answer.grounded and "대회의실" in answer.text, answer.text


def test_a_phrase_that_renders_as_an_asking_word_is_no_detail(services: Services) -> None:
    # tổ chức is "held" (개최) here, as in "where was it held": it asks, like đâu, and the
    # passage writes the place as 장소, not as 개최
    question = "Diễn đàn thanh thiếu niên năm 2025 được tổ chức ở đâu?"
    judge = services.extractive.judge
    retrieval = services.retriever.retrieve(question, Asker.staff(), 5)
    details = judge.details(question, detect_language(question), retrieval, [])
    assert not any({"tổ", "chức"} <= d.asked for d in details), details
    answer = services.answerer.answer(question, Asker.staff())
    assert answer.grounded and "한빛청소년수련원" in answer.text, answer.text

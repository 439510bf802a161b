"""Which passage comes first, on a real store of sample documents: not a flat format's title line,
the German section whose word the question asks with another ending, and the passage in
another language than the question that holds its words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain import Asker
from bot.retrieval.access import AccessScope
from bot.retrieval.hybrid import BM25_WEIGHT
from bot.services import Services, build_services
from tests.conftest import copy_sample, make_settings

SAMPLES = (
    "manuals/youth-exchange-programme.hwpx",
    "manuals/notice-homestay-host-families-2026.html",
    "agreements/duesseldorf-zusatzvereinbarung-2024.md",
    "manuals/leitfaden-hospitation-hanbit.md",
    "manuals/interpretation-services-guide.md",
    "proceedings/bien-hoa-working-meeting-minutes-2026-03.md",
    "proceedings/2026-smart-transit-card-webinar-bien-hoa.md",
)


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, analyzer: Any
) -> Iterator[Services]:
    root = tmp_path_factory.mktemp("ranking-kb")
    copy_sample(root, *SAMPLES)
    built = build_services(
        make_settings(tmp_path_factory.mktemp("ranking-data")), embedder=embedder, analyzer=analyzer
    )
    report = built.ingestor.ingest([root])
    assert not report.failed, report.failed
    yield built
    built.close()


def test_a_flat_formats_title_line_is_no_passage_that_comes_first(services: Services) -> None:
    title_line = "2026년 한빛시 청소년 국제교류 프로그램 운영 안내"
    hits = services.retriever.retrieve(
        "How many young people does Hanbit send abroad in total through its 2026 youth "
        "exchange programme?",
        Asker.staff(),
    ).hits
    assert hits[0].chunk.doc.source.endswith("youth-exchange-programme.hwpx")
    assert all(h.chunk.text != title_line for h in hits)
    youth = [h.chunk for h in hits if h.chunk.doc.source.endswith(".hwpx")]
    # its words go with every passage of the document instead
    assert all("2026" in c.tokens and "청소년" in c.tokens for c in youth)


def test_a_german_section_is_found_by_a_word_of_its_heading_in_another_form(
    services: Services,
) -> None:
    # "unterzeichnet" (asked) / "Unterzeichnet in Hanbit am …" and "Unterzeichnung" (the
    # section): one stem, when the short sentence and heading are stemmed as German
    retriever = services.retriever
    terms = retriever.analyzer.terms("Wann wurde die Zusatzvereinbarung unterzeichnet?")
    scope = AccessScope(Asker.staff(), retriever.keywords.names)
    (best, _), *_ = retriever.keywords.search(terms, scope, 5)
    (chunk,) = retriever.store.chunks([best]).values()
    assert chunk.heading.endswith("Unterzeichnung")
    # and the sentence that answers holds the question's word (what the answer quotes is
    # picked by the words its sentences share with the question)
    signed = chunk.sentences.index("Unterzeichnet in Hanbit am 8. Oktober 2024.")
    assert "unterzeichn" in terms and "unterzeichn" in chunk.sentence_terms[signed]


def test_a_passage_in_another_language_holding_the_questions_words_comes_first(
    services: Services,
) -> None:
    question = "베트남어 순차통역 하루 종일 부르면 얼마 나와요?"  # the guide is in English
    retriever = services.retriever
    assert retriever.bm25_weight == BM25_WEIGHT > 0
    hits = retriever.retrieve(question, Asker.staff()).hits
    assert hits[0].chunk.doc.source.endswith("interpretation-services-guide.md")

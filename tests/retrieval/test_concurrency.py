"""Questions answered in worker threads while an ingest runs in another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bot.domain import Asker
from bot.retrieval.vector import ChromaIndex
from bot.services import Services
from tests.conftest import copy_sample

DIM = 8


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _add(index: ChromaIndex, cid: str, language: str, seed: int) -> None:
    index.upsert([cid], [_unit(seed)[None, :]], [{"language": language, "visibility": "public"}])


def test_readers_never_fail_while_another_thread_opens_language_collections(
    tmp_path: Path,
) -> None:
    index = ChromaIndex(path=tmp_path / "chroma", space="test")
    for i, language in enumerate(("ko", "en")):
        _add(index, f"c-{language}", language, i)
    new_languages = [f"t{i:02d}" for i in range(40)]
    done = threading.Event()
    errors: dict[str, BaseException] = {}
    rounds: dict[str, int] = {}

    # every reader of the collection map: each walks the collections with Chroma calls in
    # between, which let the ingesting thread run and open another language's collection
    readers: dict[str, Callable[[], object]] = {
        "languages": lambda: index.languages,
        "count": index.count,
        "ids": index.ids,
        "vectors": lambda: index.vectors(["c-ko", "c-en", "c-t00"]),
        "delete": lambda: index.delete(["absent"]),
        "query": lambda: [index.query(_unit(0), 3, None, lang) for lang in index.languages],
    }

    def read(name: str) -> None:
        rounds[name] = 0
        while not done.is_set():
            try:
                readers[name]()
            except Exception as exc:  # what the question would have failed with
                errors[name] = exc
                return
            rounds[name] += 1

    threads = [threading.Thread(target=read, args=(name,)) for name in readers]
    for thread in threads:
        thread.start()
    try:
        for i, language in enumerate(new_languages):  # the ingest: one new language after another
            _add(index, f"c-{language}", language, 10 + i)
    finally:
        done.set()
        for thread in threads:
            thread.join()

    assert not errors, f"readers failed: {errors}"
    assert all(rounds.values()), rounds  # every reader ran while the collections were opened
    assert index.languages == sorted(["en", "ko", *new_languages])
    assert index.count() == 2 + len(new_languages)
    assert index.ids() == {"c-ko", "c-en", *(f"c-{lang}" for lang in new_languages)}


# The knowledge ingested before any question: Korean, German and English documents
BEFORE = [
    "agreements/duesseldorf-sister-city-agreement.md",
    "agreements/duesseldorf-zusatzvereinbarung-2024.md",
    "agreements/riverton-sister-city-agreement.md",
    "manuals/invited-training-programme.md",
]
# The upload ingested while the questions are asked: the first Vietnamese document, so its
# ingest opens a new language collection (and rebuilds the keyword index); no question is about
# Bien Hoa, so no answer may change
UPLOAD = "agreements/bien-hoa-ghi-nho-2025.md"
QUESTIONS = [
    "뒤셀도르프랑 자매결연 맺은 게 정확히 언제, 어디에서였죠?",
    "Who is our counterpart in Düsseldorf's international affairs office under the sister-city "
    "agreement?",
    "Wie hoch ist der gemeinsame Kooperationsfonds für Wasserstoff und Ausbildung insgesamt?",
    "뒤셀도르프 수소·직업교육 추가합의서 건으로 연락할 뒤셀도르프 쪽 담당자가 누구예요?",
    "What crops are singled out for agricultural cooperation with Riverton?",
    "2012년 리버턴과 자매결연할 때 리버턴 시장이 누구였죠?",
    "How much do invited trainees from partner cities get per month?",
    "How many weeks does the 2026 invited training programme last?",
]


def _sources(services: Services, question: str) -> tuple[str, ...]:
    answer = services.answerer.answer(question, Asker.staff())
    return tuple(c.source for c in answer.citations)


def test_eight_questions_asked_while_an_ingest_runs_give_the_sources_asked_one_by_one(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    copy_sample(tmp_path / "knowledge", *BEFORE)
    copy_sample(tmp_path / "upload", UPLOAD)
    services = make_services(tmp_path / "data")
    report = services.ingestor.ingest([tmp_path / "knowledge"])
    assert not report.failed, report.failed
    vectors = services.retriever.vectors
    assert "vi" not in vectors.languages

    alone = {q: _sources(services, q) for q in QUESTIONS}
    assert all(alone.values()), alone  # every question is answered, with sources

    ingested = threading.Event()
    start = threading.Barrier(len(QUESTIONS) + 1)

    def upload() -> int:
        start.wait()
        try:
            report = services.ingestor.ingest([tmp_path / "upload"])
        finally:
            ingested.set()
        assert not report.failed, report.failed
        return report.added

    def ask(question: str) -> tuple[int, list[tuple[str, ...]]]:
        """Ask until the ingest is over: return how often while it ran, and every answer's sources."""
        start.wait()
        during, answers = 0, list[tuple[str, ...]]()
        while True:
            running = not ingested.is_set()
            answers.append(_sources(services, question))
            if not running:
                return during, answers
            during += 1

    with ThreadPoolExecutor(len(QUESTIONS) + 1) as pool:
        uploaded = pool.submit(upload)
        asked = dict(zip(QUESTIONS, pool.map(ask, QUESTIONS), strict=True))
        assert uploaded.result() == 1

    assert "vi" in vectors.languages
    # the upload, about another city, changes no answer once it is in (else answers given while
    # it went in could rightly differ, and this test would ask too much of them)
    assert {q: _sources(services, q) for q in QUESTIONS} == alone
    for question, (during, answers) in asked.items():
        assert during, f"{question!r} was not asked while the ingest ran"
        assert all(a == alone[question] for a in answers), (question, alone[question], answers)

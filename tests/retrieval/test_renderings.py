"""The glossary renderings' query vectors are kept in the vector store, per embedding space: a
process reads the ones any process embedded and embeds none of them again at answer time
(real e5 embedder, real Chroma)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.domain import Asker
from bot.retrieval.vector import ChromaIndex
from bot.services import Services
from tests.conftest import write

PER_DIEM = (
    "---\ntitle: 국외출장 여비 기준\nvisibility: public\nlanguage: ko\n---\n# 국외출장 여비 기준\n\n"
    "## 일비\n\n국외출장 공무원의 일비는 하루 미화 60달러로 하며 출발일부터 귀국일까지 지급한다.\n"
)
PASS = (
    "---\ntitle: 한빛패스 안내\nvisibility: public\nlanguage: ko\n---\n# 한빛패스 안내\n\n"
    "## 요금\n\n한빛패스는 시내버스와 박물관을 하루 동안 이용하는 카드이며 요금은 1만 원이다.\n"
)
QUESTION = "What is the per diem on overseas business trips?"
OFFICE_QUESTION = "How much is the Hanbit Pass?"


def _count_embeddings(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every batch of questions the retriever's embedder embeds."""
    embedder = services.retriever.embedder
    real = embedder.embed_queries
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(embedder, "embed_queries", counting)
    return calls


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _ingested(
    make_services: Callable[..., Services], data_dir: Path, **settings: object
) -> Services:
    services = make_services(data_dir, **settings)
    kb = data_dir.parent / "kb"
    write(kb / "per-diem.md", PER_DIEM)
    write(kb / "pass.md", PASS)
    report = services.ingestor.ingest([kb])
    assert not report.failed, report.failed
    return services


def test_a_second_process_over_the_store_embeds_no_rendering_again(
    make_services: Callable[..., Services], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _ingested(make_services, data_dir)
    assert first.retriever.rendering_pull > 0  # the default pulls toward the renderings
    calls = _count_embeddings(first, monkeypatch)
    before = first.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert calls[0][0] == QUESTION and "일비" in calls[0][1:]  # the first process embeds them
    renderings = calls[0][1:]
    first.close()

    second = make_services(data_dir)  # a new process over the same data dir
    calls = _count_embeddings(second, monkeypatch)
    after = second.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert calls == [[QUESTION]]  # the question only: the renderings were read at start
    assert set(renderings) <= set(second.retriever._renderings)
    # the same vectors, so the same hits in the same order with the same scores
    assert [(h.chunk.id, h.score) for h in after.hits] == [
        (h.chunk.id, h.score) for h in before.hits
    ]
    for language, vector in before.query_vectors.items():
        assert np.array_equal(after.query_vectors[language], vector)


def test_another_embedding_space_does_not_reuse_the_kept_renderings(
    make_services: Callable[..., Services], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _ingested(make_services, data_dir)
    first.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert "일비" in first.retriever.vectors.stored_renderings()
    first.close()

    # another language centring is another space: the passages are embedded again, and so are
    # the renderings (the first space's are dropped with its passages)
    other = make_services(data_dir, embedding_centering=0.5)
    assert "일비" not in other.retriever._renderings
    calls = _count_embeddings(other, monkeypatch)
    other.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert calls[0][0] == QUESTION and "일비" in calls[0][1:]
    names = {c.name for c in other.retriever.vectors._client.list_collections()}
    assert [n for n in names if "-renderings-" in n] == [other.retriever.vectors._renderings_name]


def test_an_office_glossary_phrase_is_kept_and_read_back(
    make_services: Callable[..., Services],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    office = write(tmp_path / "glossary.tsv", "ko\ten\n한빛패스 | 한빛 패스\tHanbit Pass\n")
    first = _ingested(make_services, data_dir, glossary_file=office)
    calls = _count_embeddings(first, monkeypatch)
    hits = first.retriever.retrieve(OFFICE_QUESTION, Asker.staff(), 3).hits
    assert hits[0].chunk.doc.source == "pass.md"
    assert "한빛패스" in calls[0][1:]  # the office's phrase, rendered in Korean
    asked = calls[0][: calls[0].index("한빛패스")]  # the question (and its name code-switched)
    first.close()

    second = make_services(data_dir, glossary_file=office)
    calls = _count_embeddings(second, monkeypatch)
    assert second.retriever.retrieve(OFFICE_QUESTION, Asker.staff(), 3).hits[0].chunk.id == (
        hits[0].chunk.id
    )
    assert calls == [asked]


def test_processes_keeping_the_same_renderings_at_once_store_each_phrase_once(
    tmp_path: Path,
) -> None:
    phrases = [f"phrase {i}" for i in range(40)]
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(phrases), 8)).astype(np.float32)
    indexes = [ChromaIndex(path=tmp_path / "chroma", space="s1") for _ in range(2)]
    errors: list[BaseException] = []

    def keep(index: ChromaIndex) -> None:
        try:
            for start in range(0, len(phrases), 5):
                index.keep_renderings(phrases[start : start + 5], vectors[start : start + 5])
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=keep, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stored = ChromaIndex(path=tmp_path / "chroma", space="s1").stored_renderings()
    assert sorted(stored) == sorted(phrases)
    for phrase, vector in zip(phrases, vectors, strict=True):
        assert np.array_equal(stored[phrase], vector)
    # and a store of another space holds none of them
    assert ChromaIndex(path=tmp_path / "chroma", space="s2").stored_renderings() == {}

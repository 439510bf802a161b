"""The glossary renderings' query vectors: the shipped glossary's come with the package, the
others are kept in the vector store, per embedding space, so that a process reads the ones any
process embedded and embeds none of them again at answer time (real e5 embedder, real Chroma)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.domain import Asker
from bot.retrieval import renderings
from bot.retrieval.centering import model_probe
from bot.retrieval.embedder import E5Embedder
from bot.retrieval.glossary import TERMS, read_terms
from bot.retrieval.renderings import rendering_phrases, shipped_renderings
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


def test_the_shipped_glossary_renderings_cost_no_embedding_and_change_nothing(
    make_services: Callable[..., Services],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _ingested(make_services, data_dir)
    assert first.retriever.rendering_pull > 0  # the default pulls toward the renderings
    calls = _count_embeddings(first, monkeypatch)
    shipped = first.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert calls == [[QUESTION]]  # 일비's renderings came with the package
    assert first.retriever.vectors.stored_renderings() == {}  # and nothing was written for them
    first.close()

    # without the shipped file (or on another model), they are embedded on first use, as
    # before, and the question's vectors, hits and scores are the same
    monkeypatch.setattr(renderings, "SHIPPED_RENDERINGS", tmp_path / "missing.npz")
    lazy = make_services(data_dir)
    calls = _count_embeddings(lazy, monkeypatch)
    embedded = lazy.retriever.retrieve(QUESTION, Asker.staff(), 3)
    assert calls[0][0] == QUESTION and "일비" in calls[0][1:]
    assert "일비" in lazy.retriever.vectors.stored_renderings()
    assert [(h.chunk.id, h.score) for h in embedded.hits] == [
        (h.chunk.id, h.score) for h in shipped.hits
    ]
    for language, vector in shipped.query_vectors.items():
        assert np.allclose(embedded.query_vectors[language], vector, atol=1e-6)


def test_the_shipped_renderings_cover_the_glossary_and_fit_the_model(embedder: E5Embedder) -> None:
    phrases, vectors = shipped_renderings(model_probe(embedder))
    # scripts/build_renderings.py writes the file again after the glossary changes
    assert set(rendering_phrases(read_terms(TERMS))) <= set(phrases)
    sample = [0, len(phrases) // 2, len(phrases) - 1]
    assert np.allclose(embedder.embed_queries([phrases[i] for i in sample]), vectors[sample])
    # another model's probe: none of them
    other = np.roll(model_probe(embedder), 1)
    assert shipped_renderings(other)[0] == []


def test_another_embedding_space_does_not_reuse_the_kept_renderings(
    make_services: Callable[..., Services],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    office = write(tmp_path / "glossary.tsv", "ko\ten\n한빛패스 | 한빛 패스\tHanbit Pass\n")
    first = _ingested(make_services, data_dir, glossary_file=office)
    first.retriever.retrieve(OFFICE_QUESTION, Asker.staff(), 3)
    assert "한빛패스" in first.retriever.vectors.stored_renderings()
    first.close()

    # another language centring is another space: the passages are embedded again, and so are
    # the renderings the store kept (the first space's are dropped with its passages); the
    # shipped ones are centred as this space centres a question
    other = make_services(data_dir, embedding_centering=0.5, glossary_file=office)
    assert "한빛패스" not in other.retriever._renderings
    assert "일비" in other.retriever._renderings
    calls = _count_embeddings(other, monkeypatch)
    other.retriever.retrieve(OFFICE_QUESTION, Asker.staff(), 3)
    assert "한빛패스" in calls[0][1:]
    names = {c.name for c in other.retriever.vectors._client.list_collections()}
    assert [n for n in names if "-renderings-" in n] == [other.retriever.vectors._renderings_name]
    # the shipped rendering's vector is the one this space's embedder gives
    alone = other.retriever.embedder.embed_queries(["일비"])[0]
    assert np.allclose(other.retriever._renderings["일비"], alone, atol=1e-6)


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

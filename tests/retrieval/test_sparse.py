"""The BM25 index: persisted, reloaded, and answering from the old index while a new one is built."""

from __future__ import annotations

import threading
from pathlib import Path

import bm25s
import pytest

from bot.domain import Asker, SparseEntry
from bot.retrieval.access import AccessScope
from bot.retrieval.sparse import BM25Index, _postings_sorted

STAFF = AccessScope(Asker.staff())
OLD = [
    SparseEntry("a", ["riverton", "review", "year"], "public", ""),
    SparseEntry("b", ["budget", "homestay"], "public", ""),
]
NEW = [*OLD, SparseEntry("c", ["tram", "network"], "public", "")]


def test_the_index_is_persisted_and_reloaded(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25")
    index.rebuild(OLD)
    again = BM25Index(tmp_path / "bm25")
    assert [cid for cid, _ in again.search(["riverton"], STAFF, 5)] == ["a"]
    assert again.df("budget") == 1 and again.df("tram") == 0


def test_questions_are_answered_from_the_old_index_while_a_new_one_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = BM25Index(tmp_path / "bm25")
    index.rebuild(OLD)
    building, release = threading.Event(), threading.Event()
    real_index = bm25s.BM25.index

    def slow_index(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        building.set()
        assert release.wait(10)
        return real_index(self, *args, **kwargs)

    monkeypatch.setattr(bm25s.BM25, "index", slow_index)
    worker = threading.Thread(target=index.rebuild, args=(NEW,))
    worker.start()
    assert building.wait(10)
    # the rebuild is stuck in the middle: the old index still answers, at once
    assert [cid for cid, _ in index.search(["riverton"], STAFF, 5)] == ["a"]
    assert index.search(["tram"], STAFF, 5) == []
    release.set()
    worker.join(10)
    assert not worker.is_alive()
    assert [cid for cid, _ in index.search(["tram"], STAFF, 5)] == ["c"]
    assert [cid for cid, _ in BM25Index(tmp_path / "bm25").search(["tram"], STAFF, 5)] == ["c"]


def test_an_empty_index_admits_no_chunk_instead_of_failing(tmp_path: Path) -> None:
    # a process whose database had no documents yet, beside a vector store that has some
    index = BM25Index(tmp_path / "bm25")
    assert index.visible(["a", "b"], STAFF) == [False, False]
    assert index.partners(["a"]) == {} and index.webinars(["a"]) == {}


def test_the_index_remembers_the_documents_version_it_was_built_from(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25")
    assert index.version is None
    index.rebuild(OLD, version=7)
    assert index.version == 7 and BM25Index(tmp_path / "bm25").version == 7


def test_which_terms_a_chunk_holds_is_read_alike_from_sorted_or_unsorted_postings(
    tmp_path: Path,
) -> None:
    words = ["riverton", "review", "year", "budget", "homestay", "tram"]
    entries = [
        SparseEntry(f"c{i}", [w for j, w in enumerate(words) if (i >> j) & 1], "public", "")
        for i in range(1, 64)
    ]
    index = BM25Index(tmp_path / "bm25")
    index.rebuild(entries)
    ids = ["c5", "c63", "c1", "missing", "c42"]
    weights = {"riverton": 2.0, "year": 1.0, "tram": 0.5, "unknown": 1.0}
    assert index._sorted, "bm25s writes each term's rows in ascending order"
    searched = (index.holding(list(weights), ids), index.coverage(weights, ids))
    assert searched[0] == {
        "c5": {"riverton", "year"},
        "c63": {"riverton", "year", "tram"},
        "c1": {"riverton"},
        "missing": set(),
        "c42": {"review", "tram"} & set(weights),
    }
    assert searched[1]["c63"] == pytest.approx(3.5 / 4.5)
    # an index whose postings are not in order (not what bm25s writes today) is read with isin
    scores = index._model.scores  # type: ignore[attr-defined]
    for start, end in zip(scores["indptr"][:-1], scores["indptr"][1:], strict=True):
        scores["indices"][start:end] = scores["indices"][start:end][::-1].copy()
    assert not _postings_sorted(index._model)
    index._sorted = False
    assert (index.holding(list(weights), ids), index.coverage(weights, ids)) == searched
    index.rebuild(entries)
    assert index._sorted

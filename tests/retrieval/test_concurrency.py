"""Questions answered in worker threads while an ingest runs in another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.retrieval.vector import ChromaIndex

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

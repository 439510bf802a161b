"""The indexes follow the documents another process ingested.

Several bot processes share one database and one Chroma server, but each keeps its own keyword
index (a file in its data dir) and its own list of Chroma's per-language collections. Every
change of the documents raises a version in the database (KnowledgeStore.version, in the same
transaction); before a question, at most once a second, a process compares that number with the
one its keyword index was built from and, when another process changed the documents, rebuilds
the index from the stored terms and opens the collections of languages it did not know.

The question that finds the change waits for the rebuild (milliseconds for a few thousand
chunks, seconds at 100k) and is answered from the new documents; questions asked meanwhile in
other threads are answered from the old index (BM25Index.rebuild swaps it under its lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from bot.knowledge.store import KnowledgeStore
from bot.retrieval.sparse import BM25Index

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 1.0


class Collections(Protocol):
    """The dense index's side: open the collections another process created."""

    def refresh(self) -> None:
        """Open collections of this store's prefix that are not open yet."""
        ...


class IndexFollower:
    """Keeps this process's indexes at the documents' version in the database."""

    def __init__(
        self,
        store: KnowledgeStore,
        keywords: BM25Index,
        vectors: Collections | None = None,
        interval_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.keywords = keywords
        self.vectors = vectors
        self.interval_s = interval_s
        self._clock = clock
        self._next = 0.0  # the clock's time of the next look at the database
        self._checking = threading.Lock()  # one thread looks (and rebuilds); the others go on

    def check(self) -> bool:
        """Look at the documents' version (at most once per interval); rebuild when it moved.

        Return whether the indexes were rebuilt. Cheap: one single-row query a second, none in
        between; a thread arriving while another rebuilds goes on with the index it has.
        """
        if self._clock() < self._next or not self._checking.acquire(blocking=False):
            return False
        try:
            if self._clock() < self._next:
                return False
            self._next = self._clock() + self.interval_s
            version = self.store.version()
            if version == self.keywords.version:
                return False
            self.sync()
            return True
        finally:
            self._checking.release()

    def sync(self) -> None:
        """Rebuild the keyword index from the database, open new collections."""
        started = time.perf_counter()
        before = self.keywords.version
        version, entries = self.store.sparse_snapshot()
        if self.vectors is not None:
            self.vectors.refresh()  # before the keyword index: its ids admit the new vectors
        self.keywords.rebuild(entries, version)
        log.info(
            "documents changed (version %s -> %s): keyword index rebuilt, %d chunks, %.0f ms",
            before,
            version,
            len(entries),
            (time.perf_counter() - started) * 1000,
        )

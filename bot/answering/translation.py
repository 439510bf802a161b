"""Connected mode across languages: the question translated into the documents' language by the
model, searched as well, and both searches merged."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.domain import Hit
from bot.knowledge.store import KnowledgeStore
from bot.retrieval.hybrid import PER_DOCUMENT, Retrieval

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "de": "German", "vi": "Vietnamese"}
# how long the corpus's most common language is taken as known: an ingest may change it, and
# counting the documents is one small query
CORPUS_TTL_S = 60.0
# a translation longer than this many times the question (or 300 characters) is not one
MAX_GROWTH = 4


class CorpusLanguage:
    """The language most of the stored documents are in, or the configured one."""

    def __init__(
        self,
        store: KnowledgeStore,
        override: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.override = override
        self.clock = clock
        self._known: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        """Return the documents' language ("" for an empty store)."""
        if self.override:
            return self.override
        now = self.clock()
        with self._lock:
            if self._known is not None and now - self._known[0] < CORPUS_TTL_S:
                return self._known[1]
        counts = self.store.document_languages()
        # ties go to the alphabetically first language: the same answer in every process
        language = min(counts, key=lambda lang: (-counts[lang], lang)) if counts else ""
        with self._lock:
            self._known = (now, language)
        return language


class QueryTranslator:
    """Translates a question into another language with one short model call, cached.

    The cache is in memory, per process and bounded (least recently used dropped first):
    several processes each keep their own, and nothing in it is needed for correctness.
    A failure or timeout is logged (its kind, never the question) and gives None.
    """

    def __init__(self, chat_model: Any, prompt: str, cache_size: int = 1000) -> None:
        self.chat_model = chat_model  # built with the translation's own timeout, no retries
        self.prompt = prompt
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0  # model calls made (the cache's misses), for the log and the tests

    def translate(self, question: str, target: str) -> str | None:
        """Return the question in the `target` language, or None when none could be had."""
        key = (target, " ".join(question.split()))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        messages = [
            ("system", self.prompt.format(language_name=LANGUAGE_NAMES.get(target, target))),
            ("human", question),
        ]
        started = time.perf_counter()
        with self._lock:
            self.calls += 1
        try:
            reply = self.chat_model.invoke(messages)
        except Exception as exc:  # timeouts, 5xx, refused connections: search with the question
            log.warning(
                "question translation failed (%s after %.0f ms); searching with the question only",
                type(exc).__name__,
                (time.perf_counter() - started) * 1000,
            )
            return None
        content = reply.content if isinstance(reply.content, str) else str(reply.content)
        translation = _clean(content, question)
        if translation is None:
            log.info("question translation unusable; searching with the question only")
            return None
        log.info(
            "question translated to %s in %.0f ms", target, (time.perf_counter() - started) * 1000
        )
        if self.cache_size:
            with self._lock:
                self._cache[key] = translation
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return translation


def _clean(content: str, question: str) -> str | None:
    """Return the translation in a model's reply: its first line without quotes, if it is one."""
    lines = [line.strip() for line in content.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = lines[0].strip().strip("\"'“”„«»「」").strip()
    if not text or text == question.strip():
        return None
    if len(text) > max(MAX_GROWTH * len(question), 300):  # an answer or a lecture, not a query
        return None
    return text


def merge(first: Retrieval, second: Retrieval, k: int) -> Retrieval:
    """Merge two searches for one question: each passage by its better score, best k kept,
    at most PER_DOCUMENT from one document while other documents are left."""
    best: dict[str, Hit] = {}
    for hit in (*first.hits, *second.hits):
        held = best.get(hit.chunk.id)
        if held is None or hit.score > held.score:
            best[hit.chunk.id] = hit
    ranked = sorted(best.values(), key=lambda h: -h.score)
    per_document: dict[str, int] = {}
    kept: list[Hit] = []
    later: list[Hit] = []
    for hit in ranked:
        source = hit.chunk.doc.source
        per_document[source] = per_document.get(source, 0) + 1
        (kept if per_document[source] <= PER_DOCUMENT else later).append(hit)
    weights = dict(first.weights)
    for term, weight in second.weights.items():
        weights[term] = max(weight, weights.get(term, 0.0))
    return Retrieval((kept + later)[:k], max(first.best_dense, second.best_dense), weights)

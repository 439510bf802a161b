"""Hybrid retrieval: dense and keyword candidates, both access-filtered, fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.domain import Asker, Hit
from bot.knowledge.store import KnowledgeStore
from bot.nlp import Analyzer
from bot.retrieval.access import AccessScope, city_key
from bot.retrieval.embedder import Embedder
from bot.retrieval.sparse import BM25Index
from bot.retrieval.vector import ChromaIndex


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Fuse ranked id lists by reciprocal rank: sum of 1/(k + rank) over the lists an id is in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


@dataclass(frozen=True)
class Retrieval:
    """The hits for one question, with what the answerer needs to judge the evidence."""

    hits: list[Hit]
    query_terms: list[str]
    best_dense: float  # best cosine among chunks the asker may see (0 when none)


class HybridRetriever:
    """Embeds the question once, asks both indexes under the asker's scope, fuses the rankings."""

    def __init__(
        self,
        store: KnowledgeStore,
        vectors: ChromaIndex,
        keywords: BM25Index,
        embedder: Embedder,
        analyzer: Analyzer,
        candidates: int = 30,
        mode: str = "rrf",
        rrf_k: int = 60,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.keywords = keywords
        self.embedder = embedder
        self.analyzer = analyzer
        self.candidates = candidates
        self.mode = mode
        self.rrf_k = rrf_k

    def retrieve(self, question: str, asker: Asker, k: int = 5, mode: str | None = None) -> Retrieval:
        """Return the k best chunks the asker may see, best first."""
        mode = mode or self.mode
        scope = AccessScope(asker)
        terms = self.analyzer.terms(question)
        dense: list[tuple[str, float]] = []
        sparse: list[tuple[str, float]] = []
        if mode in ("rrf", "dense"):
            vector: np.ndarray = self.embedder.embed_query(question)
            dense = self.vectors.query(vector, self.candidates, scope.chroma_where())
        if mode in ("rrf", "sparse"):
            sparse = self.keywords.search(terms, scope, self.candidates)
        dense_by_id = dict(dense)
        sparse_by_id = dict(sparse)
        if mode == "dense":
            ranked = dense
        elif mode == "sparse":
            ranked = sparse
        else:
            fused = rrf([[i for i, _ in dense], [i for i, _ in sparse]], self.rrf_k)
            ranked = sorted(fused.items(), key=lambda kv: (-kv[1], -dense_by_id.get(kv[0], 0.0)))
        top = ranked[:k]
        chunks = self.store.chunks([i for i, _ in top])
        hits = []
        for chunk_id, score in top:
            chunk = chunks.get(chunk_id)
            # defence in depth: the store's metadata is checked again before anything leaves
            if chunk is None or not scope.allows(chunk.doc.visibility.value, city_key(chunk.doc.partner)):
                continue
            hits.append(Hit(chunk, score, dense_by_id.get(chunk_id), sparse_by_id.get(chunk_id)))
        best_dense = max((s for _, s in dense), default=0.0)
        return Retrieval(hits, terms, best_dense)


"""The dense index: Chroma, embedded on disk or a server, always fed our own embeddings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class ChromaIndex:
    """A Chroma collection with cosine distance and no embedding function of Chroma's own."""

    def __init__(
        self,
        path: Path | None = None,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        collection: str = "exchange_bot",
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if host:
            self._client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
        else:
            if path is None:
                raise ValueError("an embedded Chroma needs a path")
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        # embedding_function=None: Chroma must never embed (its default downloads a model)
        self._collection = self._client.get_or_create_collection(
            collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def upsert(
        self, ids: Sequence[str], embeddings: np.ndarray, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        """Insert or replace vectors with their filter metadata, in batches Chroma accepts."""
        step = 2000
        for i in range(0, len(ids), step):
            self._collection.upsert(
                ids=list(ids[i : i + step]),
                embeddings=embeddings[i : i + step],
                metadatas=list(metadatas[i : i + step]),  # type: ignore[arg-type]
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by id."""
        step = 2000
        for i in range(0, len(ids), step):
            self._collection.delete(ids=list(ids[i : i + step]))

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None
    ) -> list[tuple[str, float]]:
        """Return up to n (id, cosine similarity) pairs, best first, among what `where` admits."""
        result = self._collection.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def count(self) -> int:
        """Return how many vectors the collection holds."""
        return int(self._collection.count())

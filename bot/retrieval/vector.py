"""The dense index: Chroma, embedded on disk or a server, always fed our own embeddings.

It holds unit vectors (one per sentence of a chunk, see chunking.embedding_units) and answers in
chunks: a chunk's score is its best unit's.

One collection per document language. A question is compared with each language on its own, so
every language brings its nearest passages to the ranking (even with language-centred vectors,
see centering.py, a Korean question is nearest to Korean text first), and an unfiltered HNSW
query on a collection takes a few milliseconds where a `where` filter makes Chroma scan metadata
(10-200 ms at 10k-100k chunks). So per-language collections give the
per-language candidates without filters; the access filter is applied to their results, and a
filtered query is the fallback when too few visible passages come back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
_BATCH = 2000
_WHERE_BATCH = 500  # chunk ids per `$in` filter
_UNIT = ":"  # a unit vector's id is "<chunk id>:<row>"
# the collection of the glossary renderings' query vectors of one embedding space is named
# "<prefix>-renderings-<hash of the space>" (not "<prefix>_...": those are the passages' languages)
_RENDERINGS = "-renderings-"


class OtherEmbeddingSpace(Exception):
    """The store holds vectors of another embedding space than this process makes; nothing was
    deleted. `held` is the collection's metadata (its "space", and "centering" when recorded)."""

    def __init__(self, collection: str, held: Mapping[str, Any], space: str) -> None:
        super().__init__(
            f"collection {collection} holds vectors of embedding space "
            f"{held.get('space', '') or '(none)'}, this process makes {space or '(none)'}"
        )
        self.collection = collection
        self.held = dict(held)
        self.space = space


class ChromaIndex:
    """Chroma collections (cosine, no embedding function of Chroma's own), one per language."""

    def __init__(
        self,
        path: Path | None = None,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        collection: str = "exchange_bot",
        space: str = "",
        centering: float | None = None,
        replace_other_space: bool = True,
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
        self.prefix = collection
        # what the vectors were made with (model, language centring): vectors of another space
        # cannot be compared with this one's questions. With `replace_other_space` (the store is
        # this process's own) such collections are dropped and their chunks re-embedded from the
        # database (Ingestor.repair); without it (a server other processes share, whose vectors
        # they answer from) OtherEmbeddingSpace is raised before anything is deleted.
        self.space = space
        self.centering = centering  # recorded with new collections, to name the setting
        # Questions (its languages) and ingests (its collections) walk the map in worker threads
        # while another thread's ingest opens a new language's collection: the map is
        # copy-on-write, never changed in place, so a reader walks the map it found (no
        # "dictionary changed size during iteration") and takes no lock
        self._collections: Mapping[str, Any] = {}
        self._opening = threading.Lock()  # one writer at a time builds and swaps in a new map
        self._foreign: set[str] = set()  # collections of another space met after start (warned)
        other = {
            name: held for name, held in self._existing().items() if held.get("space", "") != space
        }
        if other and not replace_other_space:
            name = sorted(other)[0]
            raise OtherEmbeddingSpace(name, other[name], space)
        for name in sorted(other):
            log.warning("dropping %s: its vectors are of another embedding space", name)
            self._client.delete_collection(name)
        if replace_other_space:
            # a store of this process's own: other spaces' renderings are of no more use
            for name in self._renderings_collections() - {self._renderings_name}:
                log.warning("dropping %s: its vectors are of another embedding space", name)
                self._client.delete_collection(name)
        self._renderings: Any = None  # opened on first use
        self.refresh()

    @property
    def _renderings_name(self) -> str:
        digest = hashlib.sha256(self.space.encode()).hexdigest()[:16]
        return f"{self.prefix}{_RENDERINGS}{digest}"

    def _renderings_collections(self) -> set[str]:
        """Return the names of this prefix's renderings collections, whatever their space."""
        names = (c if isinstance(c, str) else c.name for c in self._client.list_collections())
        return {name for name in names if name.startswith(f"{self.prefix}{_RENDERINGS}")}

    def _renderings_collection(self) -> Any:
        if self._renderings is None:
            with self._opening:
                if self._renderings is None:
                    # never queried; not "cosine", whose collections give back each vector
                    # normalised again (1e-7 off), where a question must get the same vector
                    # from the store as from the embedder
                    self._renderings = self._client.get_or_create_collection(
                        self._renderings_name,
                        embedding_function=None,
                        metadata=self._metadata(),
                        configuration={"hnsw": {"space": "l2"}},
                    )
        return self._renderings

    def stored_renderings(self) -> dict[str, np.ndarray]:
        """Return the query vectors of glossary renderings kept in this embedding space, by phrase
        (every process of a deployment reads the ones any of them embedded)."""
        collection = self._renderings_collection()
        found: dict[str, np.ndarray] = {}
        total = int(collection.count())
        for start in range(0, total, _BATCH):
            got = collection.get(include=["embeddings", "metadatas"], limit=_BATCH, offset=start)
            for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                found[str(meta["phrase"])] = np.asarray(vector, dtype=np.float32)
        return found

    def keep_renderings(self, phrases: Sequence[str], vectors: np.ndarray) -> None:
        """Store the query vectors of glossary renderings, by phrase (an upsert by the phrase's
        id: two processes keeping the same phrase at once store it once)."""
        if not len(phrases):
            return
        self._renderings_collection().upsert(
            ids=[rendering_id(p) for p in phrases],
            embeddings=np.asarray(vectors, dtype=np.float32),
            metadatas=[{"phrase": p} for p in phrases],
        )

    def _existing(self) -> dict[str, Mapping[str, Any]]:
        """Return the metadata of each collection of this prefix in the store, by name."""
        found: dict[str, Mapping[str, Any]] = {}
        for existing in self._client.list_collections():
            name = existing if isinstance(existing, str) else existing.name
            if name.startswith(f"{self.prefix}_"):
                found[name] = self._client.get_collection(name).metadata or {}
        return found

    def refresh(self) -> None:
        """Open the collections of this space that are not open yet (another process made them).

        A collection of another space that appeared after start is never queried nor deleted.
        """
        for name, held in self._existing().items():
            language = name.removeprefix(f"{self.prefix}_")
            if language in self._collections:
                continue
            if held.get("space", "") != self.space:
                if name not in self._foreign:
                    self._foreign.add(name)
                    log.warning("ignoring %s: its vectors are of another embedding space", name)
                continue
            self._open(language)

    def clear(self) -> None:
        """Delete every collection of this prefix, whatever its space (an explicit re-embed)."""
        with self._opening:
            for name in self._existing():
                log.warning("deleting %s to embed its chunks again", name)
                self._client.delete_collection(name)
            for name in self._renderings_collections():
                self._client.delete_collection(name)
            self._collections = {}
            self._renderings = None

    def _open(self, language: str) -> Any:
        """Return (creating if needed) the collection of one language."""
        key = collection_key(language)
        collection = self._collections.get(key)
        if collection is not None:
            return collection
        with self._opening:
            collection = self._collections.get(key)  # another thread may have opened it
            if collection is None:
                # embedding_function=None: Chroma must never embed (its default downloads a model)
                collection = self._client.get_or_create_collection(
                    f"{self.prefix}_{key}",
                    embedding_function=None,
                    metadata=self._metadata(),
                    configuration={"hnsw": {"space": "cosine"}},
                )
                self._collections = {**self._collections, key: collection}
            return collection

    def _metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"space": self.space}
        if self.centering is not None:
            meta["centering"] = float(self.centering)
        return meta

    @property
    def languages(self) -> list[str]:
        """Return the languages that have a collection."""
        return sorted(self._collections)

    def upsert(
        self,
        ids: Sequence[str],
        units: Sequence[np.ndarray],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Insert or replace the unit vectors of chunks, with the chunks' filter metadata.

        `units[i]` holds chunk `ids[i]`'s vectors, one row per unit (see embedding_units); each
        is stored as `<chunk id>:<row>` in its language's collection, tagged with its chunk.
        (A chunk id is a hash of its text, so an id always comes back with the same units.)
        """
        by_language: dict[str, tuple[list[str], list[np.ndarray], list[dict[str, Any]]]] = {}
        for cid, rows, meta in zip(ids, units, metadatas, strict=True):
            unit_ids, vectors, metas = by_language.setdefault(
                str(meta.get("language") or ""), ([], [], [])
            )
            for row, vector in enumerate(np.atleast_2d(rows)):
                unit_ids.append(f"{cid}{_UNIT}{row}")
                vectors.append(vector)
                metas.append({**meta, "chunk": cid})
        for language, (unit_ids, vectors, metas) in by_language.items():
            collection = self._open(language)
            for start in range(0, len(unit_ids), _BATCH):
                collection.upsert(
                    ids=unit_ids[start : start + _BATCH],
                    embeddings=np.stack(vectors[start : start + _BATCH]),
                    metadatas=metas[start : start + _BATCH],
                )

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored unit vectors of these chunks, rows in unit order (absent ones left out)."""
        rows: dict[str, dict[int, np.ndarray]] = {}
        for collection in self._collections.values():
            for start in range(0, len(ids), _WHERE_BATCH):
                got = collection.get(
                    where={"chunk": {"$in": list(ids[start : start + _WHERE_BATCH])}},
                    include=["embeddings"],
                )
                for uid, vector in zip(got["ids"], got["embeddings"], strict=True):
                    cid, row = uid.rsplit(_UNIT, 1)
                    rows.setdefault(cid, {})[int(row)] = np.asarray(vector, dtype=np.float32)
        return {cid: np.stack([v for _, v in sorted(units.items())]) for cid, units in rows.items()}

    def unit_vectors(self, chunks: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
        """Return the unit vectors of a few chunks, given each one's language and unit count, rows
        in unit order (by id, which costs a few ms where a `where` costs tens)."""
        wanted: dict[str, list[str]] = {}
        for cid, (language, units) in chunks.items():
            wanted.setdefault(collection_key(language), []).extend(
                f"{cid}{_UNIT}{row}" for row in range(units)
            )
        rows: dict[str, dict[int, np.ndarray]] = {}
        for key, unit_ids in wanted.items():
            collection = self._collections.get(key)
            if collection is None:
                continue
            got = collection.get(ids=unit_ids, include=["embeddings"])
            for uid, vector in zip(got["ids"], got["embeddings"], strict=True):
                cid, row = uid.rsplit(_UNIT, 1)
                rows.setdefault(cid, {})[int(row)] = np.asarray(vector, dtype=np.float32)
        return {
            cid: np.stack([v for _, v in sorted(units.items())])
            for cid, units in rows.items()
            if len(units) == chunks[cid][1]
        }

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the vectors of these chunks (from whichever language holds them)."""
        for collection in self._collections.values():
            for start in range(0, len(ids), _WHERE_BATCH):
                collection.delete(where={"chunk": {"$in": list(ids[start : start + _WHERE_BATCH])}})

    def query(
        self,
        vector: np.ndarray,
        n: int,
        where: dict[str, Any] | None,
        language: str,
    ) -> list[tuple[str, float, int]]:
        """Return (chunk id, cosine of its best unit, that unit's row), best first, from the n
        nearest units in one language's collection."""
        return by_chunk(self.query_units(vector, n, where, language))

    def query_units(
        self,
        vector: np.ndarray,
        n: int,
        where: dict[str, Any] | None,
        language: str,
    ) -> list[tuple[str, float, int]]:
        """Return the n nearest units in one language's collection as (chunk id, cosine, row),
        nearest first (fewer than n: the collection, or what `where` admits of it, holds no more)."""
        collection = self._collections.get(collection_key(language))
        if collection is None:
            return []
        result = collection.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        distances = (result.get("distances") or [[]])[0]
        units = []
        for uid, distance in zip(result["ids"][0], distances, strict=True):
            cid, row = uid.rsplit(_UNIT, 1)
            units.append((cid, 1.0 - float(distance), int(row)))
        return units

    def ids(self) -> set[str]:
        """Return the ids of every chunk with vectors."""
        held: set[str] = set()
        for collection in self._collections.values():
            total = int(collection.count())
            for start in range(0, total, _BATCH):
                got = collection.get(include=[], limit=_BATCH, offset=start)["ids"]
                held.update(uid.rsplit(_UNIT, 1)[0] for uid in got)
        return held

    def count_of(self, language: str) -> int:
        """Return how many unit vectors one language's collection holds."""
        collection = self._collections.get(collection_key(language))
        return 0 if collection is None else int(collection.count())

    def count(self) -> int:
        """Return how many unit vectors the collections hold."""
        return sum(int(c.count()) for c in self._collections.values())


def by_chunk(units: Sequence[tuple[str, float, int]]) -> list[tuple[str, float, int]]:
    """Return (chunk id, cosine of its best unit, that unit's row) of units, best first."""
    best: dict[str, tuple[float, int]] = {}
    for cid, score, row in units:
        if cid not in best or score > best[cid][0]:
            best[cid] = (score, row)
    ranked = sorted(best.items(), key=lambda pair: -pair[1][0])
    return [(cid, score, row) for cid, (score, row) in ranked]


def rendering_id(phrase: str) -> str:
    """Return the id a rendering's vector is kept under (the same phrase, the same id)."""
    return hashlib.sha256(phrase.encode("utf-8")).hexdigest()[:32]


def collection_key(language: str) -> str:
    """Return the collection suffix of a language ("xx" when none)."""
    return re.sub(r"[^a-z0-9]", "", language.lower()) or "xx"

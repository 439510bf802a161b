"""The knowledge store: documents and chunks in the database, the source of truth for both indexes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.domain import Chunk, DocMeta, SparseEntry, Visibility, city_key
from bot.knowledge.models import ChunkRow, DocumentRow, KnowledgeVersionRow
from bot.storage.db import Database, utcnow


def _doc_meta(row: DocumentRow) -> DocMeta:
    return DocMeta(
        source=row.source,
        title=row.title,
        kind=row.kind,
        partner=row.partner,
        date=row.date,
        language=row.language,
        visibility=Visibility(row.visibility),
        webinar=row.webinar,
    )


def chroma_metadata(chunk: Chunk) -> dict[str, str]:
    """Return the metadata the dense index filters on (and nothing else)."""
    return {
        "visibility": chunk.doc.visibility.value,
        "partner": city_key(chunk.doc.partner),
        "language": chunk.language,
        "webinar": chunk.doc.webinar,
        "source": chunk.doc.source,
    }


# chunks a store's read cache keeps at most (the most recently read; a few KB each)
CHUNK_CACHE_SIZE = 4096


class ChunkCache:
    """Chunks read from the database, by id, as of one documents' version.

    Filled only with what was read while the cache stayed at one version: a read that began
    before the version moved (an ingest here, or one another process made that a version check
    noticed) is not kept, so nothing read before a change is served after it was noticed.
    """

    def __init__(self, size: int = CHUNK_CACHE_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Chunk] = OrderedDict()
        self._version: int | None = None  # the version the entries are of (None: keep nothing)
        self._generation = 0  # raised at every change of version: fills of older reads refused

    def observe(self, version: int) -> None:
        """Note the documents' version as just read from the database; forget older chunks."""
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
                self._generation += 1

    def invalidate(self) -> None:
        """Forget every chunk (this process changed the documents); keep none until the next
        version is observed."""
        with self._lock:
            self._entries.clear()
            self._version = None
            self._generation += 1

    def get(self, ids: Sequence[str]) -> tuple[dict[str, Chunk], list[str], int]:
        """Return (the chunks held, the ids not held, the generation to fill them under)."""
        found: dict[str, Chunk] = {}
        missing: list[str] = []
        with self._lock:
            for chunk_id in ids:
                chunk = self._entries.get(chunk_id) if self._version is not None else None
                if chunk is None:
                    missing.append(chunk_id)
                else:
                    self._entries.move_to_end(chunk_id)
                    found[chunk_id] = chunk
            return found, missing, self._generation

    def fill(self, chunks: dict[str, Chunk], generation: int) -> None:
        """Keep chunks read under `generation`, unless the version moved since."""
        with self._lock:
            if generation != self._generation or self._version is None:
                return
            self._entries.update(chunks)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class KnowledgeStore:
    """Reads and writes documents and chunks; knows nothing of indexes or models."""

    def __init__(self, db: Database, cache: ChunkCache | None = None) -> None:
        self.db = db
        # the read cache of `with_read_cache()` views: shared with them so that a change made
        # through any of them (or this store) forgets it at once
        self._cache = cache or ChunkCache()

    def with_read_cache(self) -> KnowledgeStore:
        """Return a view of this store whose `chunks` reads are cached by chunk id.

        For the retriever (and its IndexFollower, whose version checks keep the cache): the
        cache holds chunks of the documents' version the view last read (`version`,
        `sparse_snapshot`); a change made in this process forgets it at once, one made by
        another process when the next version check sees it (IndexFollower: at most once a
        second, before a question, as for the keyword index). Ingest keeps the plain store.
        """
        return CachedKnowledgeStore(self.db, self._cache)

    def hashes(self) -> dict[str, tuple[str, str]]:
        """Return source -> (content hash, root folder) of every ingested document."""
        with self.db.session() as s:
            return {r.source: (r.content_hash, r.root) for r in s.scalars(select(DocumentRow))}

    def chunk_ids(
        self, source: str | None = None, around: tuple[int, int] | None = None
    ) -> list[str]:
        """Return the chunk ids of one document, or of all of them; `around` (ordinal, n): only
        the n whose ordinals are nearest that one, nearest first."""
        query = select(ChunkRow.id)
        if source is not None:
            query = query.where(ChunkRow.source == source)
        if around is not None:
            ordinal, n = around
            distance = func.abs(ChunkRow.ordinal - ordinal)
            query = query.order_by(distance, ChunkRow.ordinal).limit(n)
        with self.db.session() as s:
            return list(s.scalars(query))

    def replace(self, meta: DocMeta, root: str, content_hash: str, chunks: Sequence[Chunk]) -> None:
        """Replace a document and all its chunks in one transaction."""
        with self.db.session() as s:
            s.execute(delete(ChunkRow).where(ChunkRow.source == meta.source))
            s.merge(
                DocumentRow(
                    source=meta.source,
                    root=root,
                    content_hash=content_hash,
                    title=meta.title,
                    kind=meta.kind,
                    partner=meta.partner,
                    date=meta.date,
                    language=meta.language,
                    visibility=meta.visibility.value,
                    webinar=meta.webinar,
                )
            )
            s.flush()
            _bump(s)
            s.add_all(
                ChunkRow(
                    id=c.id,
                    source=meta.source,
                    ordinal=c.ordinal,
                    heading=c.heading,
                    text=c.text,
                    sentences=list(c.sentences),
                    terms=list(c.tokens),
                    language=c.language,
                    sentence_terms=[list(t) for t in c.sentence_terms],
                )
                for c in chunks
            )
        self._cache.invalidate()  # after the commit: a read from now on sees the new chunks

    def remove(self, sources: Iterable[str]) -> list[str]:
        """Delete documents and return the ids of the chunks they had."""
        removed: list[str] = []
        with self.db.session() as s:
            for source in sources:
                removed += list(s.scalars(select(ChunkRow.id).where(ChunkRow.source == source)))
                s.execute(delete(ChunkRow).where(ChunkRow.source == source))
                s.execute(delete(DocumentRow).where(DocumentRow.source == source))
            _bump(s)
        self._cache.invalidate()
        return removed

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Fetch chunks by id with their document metadata."""
        if not ids:
            return {}
        out: dict[str, Chunk] = {}
        with self.db.session() as s:
            rows = s.execute(
                select(ChunkRow, DocumentRow)
                .join(DocumentRow, ChunkRow.source == DocumentRow.source)
                .where(ChunkRow.id.in_(list(ids)))
            ).all()
            for chunk, doc in rows:
                out[chunk.id] = Chunk(
                    id=chunk.id,
                    doc=_doc_meta(doc),
                    ordinal=chunk.ordinal,
                    heading=chunk.heading,
                    text=chunk.text,
                    sentences=tuple(chunk.sentences),
                    language=chunk.language,
                    tokens=tuple(chunk.terms),
                    sentence_terms=tuple(tuple(t) for t in chunk.sentence_terms),
                )
        return out

    def version(self) -> int:
        """Return the documents' version: raised by every change of documents or chunks."""
        with self.db.session() as s:
            return _version(s)

    def sparse_snapshot(self) -> tuple[int, list[SparseEntry]]:
        """Return the documents' version and every chunk's keyword entry, at least that new.

        The version is read first: a change committed in between raises it past the one
        returned, so an index built from this snapshot is rebuilt again at the next check.
        """
        with self.db.session() as s:
            return _version(s), _sparse_entries(s)

    def sparse_entries(self) -> list[SparseEntry]:
        """Return every chunk's terms and access metadata, in a stable order."""
        with self.db.session() as s:
            return _sparse_entries(s)

    def document(self, source: str) -> DocMeta | None:
        """Return the metadata of one ingested document, or None."""
        with self.db.session() as s:
            row = s.get(DocumentRow, source)
            return _doc_meta(row) if row else None

    def documents(self) -> list[DocMeta]:
        """Return the metadata of every ingested document."""
        with self.db.session() as s:
            return [
                _doc_meta(r) for r in s.scalars(select(DocumentRow).order_by(DocumentRow.source))
            ]

    def document_languages(self) -> dict[str, int]:
        """Count the stored documents per language: as their metadata says, else as most of
        their chunks are (a web page ingested without metadata)."""
        counts: dict[str, int] = {}
        with self.db.session() as s:
            declared = s.execute(
                select(DocumentRow.language, func.count())
                .where(DocumentRow.language != "")
                .group_by(DocumentRow.language)
            ).all()
            per_chunk = s.execute(
                select(ChunkRow.source, ChunkRow.language, func.count())
                .join(DocumentRow, DocumentRow.source == ChunkRow.source)
                .where(DocumentRow.language == "")
                .group_by(ChunkRow.source, ChunkRow.language)
            ).all()
        for language, n in declared:
            counts[language] = counts.get(language, 0) + int(n)
        undeclared: dict[str, tuple[int, str]] = {}
        for source, language, n in per_chunk:
            if int(n) > undeclared.get(source, (0, ""))[0]:
                undeclared[source] = (int(n), language)
        for _, language in undeclared.values():
            if language:
                counts[language] = counts.get(language, 0) + 1
        return counts

    def count_units(self) -> int:
        """Return how many unit vectors the stored chunks have (one per sentence, at least one)."""
        from sqlalchemy import case

        length = func.json_array_length(ChunkRow.sentences)
        per_chunk = case((length > 1, length), else_=1)
        with self.db.session() as s:
            return int(s.scalar(select(func.sum(per_chunk))) or 0)

    def count_chunks(self) -> int:
        """Return how many chunks are stored."""
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(ChunkRow)) or 0)


class CachedKnowledgeStore(KnowledgeStore):
    """A store whose chunk reads are cached as of the documents' version it last read."""

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Fetch chunks by id: the ones held from the cache, the others from the database."""
        found, missing, generation = self._cache.get(ids)
        if missing:
            read = super().chunks(missing)
            self._cache.fill(read, generation)
            found.update(read)
        return {i: found[i] for i in ids if i in found}

    def version(self) -> int:
        """Return the documents' version (and forget cached chunks of an older one)."""
        version = super().version()
        self._cache.observe(version)
        return version

    def sparse_snapshot(self) -> tuple[int, list[SparseEntry]]:
        """Return the documents' version and every chunk's keyword entry (see KnowledgeStore)."""
        version, entries = super().sparse_snapshot()
        self._cache.observe(version)
        return version, entries


def _version(s: Session) -> int:
    return int(
        s.scalar(select(KnowledgeVersionRow.version).where(KnowledgeVersionRow.id == 1)) or 0
    )


def _bump(s: Session) -> None:
    """Raise the documents' version in the transaction that changes them (a row lock on
    PostgreSQL until it commits, so versions follow the order of the commits)."""
    raised = s.execute(
        update(KnowledgeVersionRow)
        .where(KnowledgeVersionRow.id == 1)
        .values(version=KnowledgeVersionRow.version + 1, changed_at=utcnow())
    )
    if not raised.rowcount:  # type: ignore[attr-defined]  # (a CursorResult)
        s.add(KnowledgeVersionRow(id=1, version=1, changed_at=utcnow()))


def _sparse_entries(s: Session) -> list[SparseEntry]:
    rows = s.execute(
        select(
            ChunkRow.id,
            ChunkRow.terms,
            DocumentRow.visibility,
            DocumentRow.partner,
            DocumentRow.webinar,
        )
        .join(DocumentRow, ChunkRow.source == DocumentRow.source)
        .order_by(ChunkRow.source, ChunkRow.ordinal)
    ).all()
    return [SparseEntry(r[0], r[1], r[2], city_key(r[3]), r[4]) for r in rows]

"""The knowledge store: documents and chunks in the database, the source of truth for both indexes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select, update
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


class KnowledgeStore:
    """Reads and writes documents and chunks; knows nothing of indexes or models."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def hashes(self) -> dict[str, tuple[str, str]]:
        """Return source -> (content hash, root folder) of every ingested document."""
        with self.db.session() as s:
            return {r.source: (r.content_hash, r.root) for r in s.scalars(select(DocumentRow))}

    def chunk_ids(self, source: str | None = None) -> list[str]:
        """Return the chunk ids of one document, or of all of them."""
        query = select(ChunkRow.id)
        if source is not None:
            query = query.where(ChunkRow.source == source)
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

    def remove(self, sources: Iterable[str]) -> list[str]:
        """Delete documents and return the ids of the chunks they had."""
        removed: list[str] = []
        with self.db.session() as s:
            for source in sources:
                removed += list(s.scalars(select(ChunkRow.id).where(ChunkRow.source == source)))
                s.execute(delete(ChunkRow).where(ChunkRow.source == source))
                s.execute(delete(DocumentRow).where(DocumentRow.source == source))
            _bump(s)
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
        from sqlalchemy import func

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
        from sqlalchemy import case, func

        length = func.json_array_length(ChunkRow.sentences)
        per_chunk = case((length > 1, length), else_=1)
        with self.db.session() as s:
            return int(s.scalar(select(func.sum(per_chunk))) or 0)

    def count_chunks(self) -> int:
        """Return how many chunks are stored."""
        from sqlalchemy import func

        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(ChunkRow)) or 0)


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

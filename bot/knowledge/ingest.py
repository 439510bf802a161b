"""Incremental ingest: unchanged files are skipped, changed ones replaced, deleted ones removed."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.domain import Chunk, SparseEntry, Visibility
from bot.knowledge.chunking import SPLITTING_VERSION, chunk_document, embedding_units
from bot.knowledge.limits import ParseWorker
from bot.knowledge.loaders import SIDECAR_SUFFIX, LoadedDocument, LoadError, is_supported
from bot.knowledge.store import KnowledgeStore, chroma_metadata
from bot.nlp import Analyzer

log = logging.getLogger(__name__)


# What ingest needs of the retrieval side, as interfaces: knowledge is what retrieval reads, so
# it must not import retrieval's classes (bot.retrieval's embedder and indexes satisfy these).


class PassageEmbedder(Protocol):
    """Turns passages into vectors and counts the model's tokens."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch of passages (rows in order)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Count the model's tokens for a passage."""
        ...


class VectorIndex(Protocol):
    """Holds each chunk's unit vectors with the chunk's filter metadata."""

    def upsert(
        self,
        ids: Sequence[str],
        units: Sequence[np.ndarray],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Insert or replace the unit vectors of chunks."""
        ...

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored unit vectors of these chunks (absent ones left out)."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the vectors of these chunks."""
        ...

    def ids(self) -> set[str]:
        """Return the ids of every chunk with vectors."""
        ...

    def count(self) -> int:
        """Return how many unit vectors the index holds."""
        ...


class KeywordIndex(Protocol):
    """A keyword index rebuilt from the stored terms whenever the chunks change."""

    version: int | None  # the documents' version it was built from (None: unknown)

    def rebuild(self, entries: Sequence[SparseEntry], version: int | None = None) -> None:
        """Replace the index with these entries, of the documents' `version`."""
        ...

    def count(self) -> int:
        """Return how many chunks the index holds."""
        ...


@dataclass
class IngestReport:
    """What one ingest run did."""

    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    tokens: int = 0
    embedded: int = 0  # chunks sent to the embedder (unchanged chunks of a changed file are not)

    def summary(self) -> str:
        """Return the one-paragraph summary printed at the end of a run."""
        lines = [
            f"files: {self.files} (new {self.added}, changed {self.updated}, unchanged/skipped "
            f"{self.unchanged}, removed {self.removed}, failed {len(self.failed)})",
            f"chunks added: {self.chunks}; seconds: {self.seconds:.1f}",
        ]
        lines += [f"failed: {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Target:
    path: Path
    source: str
    root: str


def _targets(paths: Iterable[Path]) -> tuple[list[_Target], list[str], list[tuple[str, str]]]:
    """Expand folders; return files to read, folders walked in full, and missing paths."""
    targets: list[_Target] = []
    roots: list[str] = []
    missing: list[tuple[str, str]] = []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            roots.append(str(root))
            for file in sorted(root.rglob("*")):
                rel = file.relative_to(root)
                if (
                    file.is_file()
                    and is_supported(file)
                    and not any(p.startswith(".") for p in rel.parts)
                ):
                    targets.append(_Target(file, rel.as_posix(), str(root)))
        elif path.is_file():
            if path.name.endswith(SIDECAR_SUFFIX) or not is_supported(path):
                missing.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
            else:
                targets.append(_Target(path, path.name, str(path.resolve().parent)))
        else:
            missing.append((str(path), "no such file or folder"))
    return targets, roots, missing


def file_hash(path: Path) -> str:
    """Hash a file and its sidecar, so a metadata change re-ingests the file (and the way it is
    cut into sentences, so a release that cuts it better reads it again)."""
    h = hashlib.sha256(path.read_bytes())
    h.update(b"\x00splitting\x00" + SPLITTING_VERSION.encode())
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        h.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return h.hexdigest()


# (source, passages embedded so far, passages of the file to embed), after each batch
PassageProgress = Callable[[str, int, int], None]


class Ingestor:
    """Loads, chunks, embeds and indexes files; keeps the database and both indexes in step.

    Files are parsed by `parser`, a worker process with memory and time limits (by default one
    with the default limits), so a hostile file cannot take the process running ingest with it.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        vectors: VectorIndex,
        keywords: KeywordIndex,
        embedder: PassageEmbedder,
        analyzer: Analyzer,
        max_tokens: int = 200,
        overlap_sentences: int = 1,
        batch_size: int = 32,
        parser: ParseWorker | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.keywords = keywords
        self.embedder = embedder
        self.analyzer = analyzer
        self.max_tokens = max_tokens
        self.overlap = overlap_sentences
        self.batch_size = batch_size
        self.parser = parser or ParseWorker()
        # one run at a time (two staff uploads, a curated answer, a webinar file): each run
        # rebuilds the keyword index from the database as it read it, so a run that read it
        # before another run stored its file would rebuild the index without that file
        self._running = threading.Lock()

    def ingest(
        self,
        paths: Iterable[Path],
        default_visibility: Visibility = Visibility.INTERNAL,
        progress: Callable[[int, int, str], None] | None = None,
        overrides: dict[str, str] | None = None,
        passages: PassageProgress | None = None,
    ) -> IngestReport:
        """Ingest files and folders; a file that fails is reported and the run goes on.

        `progress` hears of each file, `passages` of each batch embedded. Either may raise to
        stop the run: the file being read is then not stored, and the vectors already written
        for it are removed or completed by `repair` at the next start.
        """
        with self._running:
            started = time.perf_counter()
            report = IngestReport()
            targets, roots, missing = _targets(paths)
            report.failed.extend(missing)
            report.files = len(targets)
            known = self.store.hashes()
            changed_index = False

            for i, target in enumerate(targets):
                if progress:
                    progress(i, len(targets), target.source)
                try:
                    digest = file_hash(target.path)
                except OSError as exc:
                    report.failed.append(
                        (target.source, f"cannot read file: {exc.strerror or exc}")
                    )
                    continue
                previous = known.get(target.source)
                if previous and previous[0] == digest and not overrides:
                    report.unchanged += 1
                    continue
                try:
                    doc = self.load(target.path, target.source, default_visibility)
                except LoadError as exc:
                    report.failed.append((target.source, str(exc)))
                    log.warning("skipped %s: %s", target.source, exc)
                    continue
                meta = doc.meta
                if overrides:
                    meta = replace(
                        meta,
                        visibility=Visibility(overrides.get("visibility", meta.visibility.value)),
                        partner=overrides.get("partner", meta.partner),
                        webinar=overrides.get("webinar", meta.webinar),
                    )
                chunks = chunk_document(
                    meta,
                    doc.sections,
                    self.analyzer,
                    self.max_tokens,
                    self.overlap,
                    count_tokens=self.embedder.count_tokens,
                )
                old = self.store.chunks(self.store.chunk_ids(target.source)) if previous else {}
                self._index(chunks, old, report, passages)
                self.store.replace(meta, target.root, digest, chunks)
                changed_index = True
                report.chunks += len(chunks)
                if previous:
                    report.updated += 1
                else:
                    report.added += 1

            # files that vanished from a folder we walked in full
            present = {t.source for t in targets}
            gone = [s for s, (_, root) in known.items() if root in roots and s not in present]
            if gone:
                self.vectors.delete(self.store.remove(gone))
                report.removed = len(gone)
                changed_index = True
            if changed_index:
                self._rebuild_keywords()
            if progress:
                progress(len(targets), len(targets), "")
            report.seconds = time.perf_counter() - started
            return report

    def load(self, path: Path, source: str, default_visibility: Visibility) -> LoadedDocument:
        """Read one file through the bounded parser; raise LoadError saying why it cannot be."""
        return self.parser.load(path, source, default_visibility)

    def close(self) -> None:
        """Stop the parser's worker process."""
        self.parser.close()

    def repair(self, prune: bool = True) -> int:
        """Make the indexes hold the stored chunks; return how many were re-embedded.

        A keyword index not of the documents' version in the database (or not holding as many
        chunks) is rebuilt from the stored terms. Chunks whose vectors are missing (the Chroma
        directory was lost, or its vectors were of another embedding space and were dropped) are
        embedded again from the database. With `prune`, vectors of chunks the database does not
        hold are removed; without it (a Chroma server other processes share: this database may
        be empty or the wrong one) they are left alone and counted in a warning. Cheap when the
        counts agree.
        """
        with self._running:
            version = self.store.version()
            if (
                self.keywords.version != version
                or self.keywords.count() != self.store.count_chunks()
            ):
                # lost with the data dir, a new process beside a shared database, or documents
                # another process ingested: the stored terms rebuild it without reading a file
                log.info("rebuilding the keyword index from the database (version %d)", version)
                self._rebuild_keywords()
            if self.vectors.count() == self.store.count_units():
                return 0
            wanted = set(self.store.chunk_ids())
            held = self.vectors.ids()
            if held - wanted and prune:
                self.vectors.delete(sorted(held - wanted))
            elif held - wanted:
                log.warning(
                    "the shared vector store holds vectors of %d chunks this database does not "
                    "have: left alone (is DATABASE_URL the database the other processes use? "
                    "`exchange-bot reembed` removes them)",
                    len(held - wanted),
                )
            missing = sorted(wanted - held)
            if missing:
                log.info("re-embedding %d chunks the vector index lacks", len(missing))
                report = IngestReport()
                for start in range(0, len(missing), 1000):
                    chunks = self.store.chunks(missing[start : start + 1000])
                    self._embed(list(chunks.values()), report)
            return len(missing)

    def _rebuild_keywords(self) -> None:
        version, entries = self.store.sparse_snapshot()
        self.keywords.rebuild(entries, version)

    def _index(
        self,
        chunks: list[Chunk],
        old: dict[str, Chunk],
        report: IngestReport,
        passages: PassageProgress | None = None,
    ) -> None:
        """Index a file's chunks, embedding only those whose embedded text changed.

        A chunk that kept its id, embedded text and language keeps its vectors (only its filter
        metadata is rewritten), so editing one paragraph of a long manual re-embeds one chunk.
        """
        keep = [
            c.id
            for c in chunks
            if c.id in old
            and old[c.id].language == c.language
            and embedding_units(old[c.id]) == embedding_units(c)
        ]
        stale = sorted(set(old) - set(keep))
        if stale:
            self.vectors.delete(stale)
        kept = self.vectors.vectors(keep)
        if kept:
            reused = [c for c in chunks if c.id in kept]
            self.vectors.upsert(
                [c.id for c in reused],
                [kept[c.id] for c in reused],
                [chroma_metadata(c) for c in reused],
            )
        self._embed([c for c in chunks if c.id not in kept], report, passages)

    def _embed(
        self, chunks: list[Chunk], report: IngestReport, passages: PassageProgress | None = None
    ) -> None:
        """Embed chunks' units in batches and store them.

        A unit repeated by the overlap between neighbouring chunks is embedded once.
        """
        for start in range(0, len(chunks), self.batch_size):
            batch = chunks[start : start + self.batch_size]
            units = [embedding_units(c) for c in batch]
            texts = list(dict.fromkeys(t for chunk_units in units for t in chunk_units))
            t0 = time.perf_counter()
            vectors = np.concatenate(
                [
                    self.embedder.embed_passages(texts[i : i + self.batch_size])
                    for i in range(0, len(texts), self.batch_size)
                ]
            )
            report.embed_seconds += time.perf_counter() - t0
            report.tokens += sum(self.embedder.count_tokens(t) for t in texts)
            report.embedded += len(batch)
            row = {text: i for i, text in enumerate(texts)}
            self.vectors.upsert(
                [c.id for c in batch],
                [vectors[[row[t] for t in chunk_units]] for chunk_units in units],
                [chroma_metadata(c) for c in batch],
            )
            if passages and batch:
                passages(batch[0].doc.source, start + len(batch), len(chunks))

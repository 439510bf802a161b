"""Plain domain types shared by every layer."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

_CITE_MARK = re.compile(r"\[([\d,\s]+)\]")


class Visibility(StrEnum):
    """Who may see a document; the order is the order of privilege."""

    PUBLIC = "public"
    PARTNER = "partner"
    INTERNAL = "internal"


class Role(StrEnum):
    """Who is asking."""

    PUBLIC = "public"
    PARTNER = "partner"
    ATTENDEE = "attendee"
    STAFF = "staff"


def city_key(name: str | None) -> str:
    """Normalise a partner-city name for comparison (case, accents kept, Unicode form unified)."""
    return unicodedata.normalize("NFC", (name or "").strip()).casefold()


@dataclass(frozen=True)
class Asker:
    """The role, partner city and webinar of the person asking; the access filter reads only this."""

    role: Role = Role.PUBLIC
    partner: str | None = None
    webinar: str | None = None

    @classmethod
    def staff(cls) -> Asker:
        """Return an asker who sees everything."""
        return cls(Role.STAFF)


@dataclass(frozen=True)
class DocMeta:
    """Metadata of one source document (front matter or sidecar)."""

    source: str  # path relative to the ingested folder
    title: str
    kind: str = ""
    partner: str = ""
    date: str = ""
    language: str = ""
    visibility: Visibility = Visibility.INTERNAL
    webinar: str = ""


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path, as a loader found it."""

    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document with everything an answer needs, computed at ingest."""

    id: str
    doc: DocMeta
    ordinal: int
    heading: str
    text: str
    sentences: tuple[str, ...]
    language: str
    tokens: tuple[str, ...] = ()  # BM25 terms of the chunk (title and heading included)
    sentence_terms: tuple[tuple[str, ...], ...] = ()  # terms of each sentence, for extraction


@dataclass(frozen=True)
class SparseEntry:
    """What the keyword index needs of a chunk: its id, its terms and its access metadata."""

    id: str
    terms: Sequence[str]
    visibility: str
    partner: str  # city_key of the document's partner city ("" when untagged)
    webinar: str = ""


@dataclass(frozen=True)
class Hit:
    """A chunk with its retrieval score."""

    chunk: Chunk
    score: float
    dense: float | None = None  # cosine similarity when the dense retriever saw it
    sparse: float | None = None
    sentence: int | None = None  # the chunk's sentence that matched the question best (dense)


def readable_heading(kind: str, heading: str) -> str:
    """Return a chunk's heading as others may read it: a curated answer's heading is an
    attendee's question, which never goes where someone else reads."""
    return "" if kind == "qa" else heading


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer."""

    n: int
    source: str
    title: str
    heading: str  # as others may read it (readable_heading): empty for a curated answer
    text: str
    score: float
    visibility: Visibility
    chunk_id: str
    kind: str = ""  # the document's kind; "qa" marks a curated answer (its heading is a question)

    @property
    def shown_heading(self) -> str:
        """Return the heading to show readers (the last step of the path)."""
        return self.heading.split(" > ")[-1]


@dataclass(frozen=True)
class Answer:
    """An answer with its citations and whether the evidence supported it."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    grounded: bool
    language: str
    latency_ms: float = 0.0
    mode: str = "extractive"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def cited(self) -> tuple[Citation, ...]:
        """Return the citations the answer's text actually marks with [n], in citation order."""
        used = {
            int(n) for group in _CITE_MARK.findall(self.text) for n in re.findall(r"\d+", group)
        }
        return tuple(c for c in self.citations if c.n in used)

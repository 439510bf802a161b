"""Plain domain types shared by every layer."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
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
    """Return the spelling a partner tag is stored and indexed under (case and Unicode form unified).

    It keeps the tag as written (뒤셀도르프, duesseldorf): which city a spelling names is
    `CityNames.key`'s to say, at the time of asking, so editing the directory needs no re-ingest.
    """
    return unicodedata.normalize("NFC", (name or "").strip()).casefold()


# what separates the words of a city name ("Bien-Hoa", "Bien Hoa", "Bien·Hoa")
NAME_SEPARATORS = r"[\s\-_.·]"
# administrative words around a city's name that people add or leave out (안양시, Anyang City,
# Stadt Düsseldorf, thành phố Biên Hòa), matched on folded text
_ADMINISTRATIVE = re.compile(
    r"^(?:city\s+of|stadt|thanh\s+pho|tp)\s+|\s+(?:city|stadt|shi)$|(?<=[\uac00-\ud7a3])\s*시$"
)


def fold_letters(text: str) -> str:
    """Return the text case- and accent-folded, character for character (Hangul survives intact)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).casefold()  # casefold makes ß "ss"


def fold(text: str) -> str:
    """Return a matching key: case-, accent- and spacing-insensitive (Hangul survives intact)."""
    return re.sub(NAME_SEPARATORS + "+", " ", fold_letters(text)).strip()


def _bare(folded: str) -> str:
    """Return a folded name without the administrative word around it (안양시 -> 안양)."""
    return _ADMINISTRATIVE.sub("", folded).strip()


class UnknownCity(LookupError):
    """No city of the directory goes by the given name; `known` lists the directory's cities."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown partner city {name!r} (known: {', '.join(known) or 'none'})")
        self.name = name
        self.known = list(known)


class CityNames:
    """Every name a city goes by, resolved to the one name the partner directory gives it.

    Built from the directory's cities (each its name, then its aliases), it turns whatever a
    person or a document writes (an alias, with or without accents, in any case, in Hangul or
    Latin letters, with or without 시 or "city") into the directory's name, and gives every
    spelling of one city the same key. Invites, group levels, the access filter and meetings all
    compare cities through it. Empty (no directory), it resolves nothing and keys by spelling.
    """

    def __init__(self, cities: Iterable[Sequence[str]] = ()) -> None:
        self._known: list[str] = []
        self._index: dict[str, str] = {}
        bare: dict[str, str] = {}
        for names in cities:
            names = [n for n in (str(n).strip() for n in names) if n]
            if not names:
                continue
            self._known.append(names[0])
            for name in names:
                self._index.setdefault(fold(name), names[0])
                bare.setdefault(_bare(fold(name)), names[0])
        # a name as written wins over another city's name without its administrative word
        for name, city in bare.items():
            if name:
                self._index.setdefault(name, city)

    @property
    def known(self) -> list[str]:
        """Return the directory's city names, in its order."""
        return list(self._known)

    def __bool__(self) -> bool:
        return bool(self._known)

    def resolve(self, text: str | None) -> str | None:
        """Return the directory's name of the city the text names, or None when none does."""
        folded = fold(text or "")
        if not folded:
            return None
        return self._index.get(folded) or self._index.get(_bare(folded))

    def key(self, text: str | None) -> str:
        """Return the one key of the city a name or a tag names ("" for none).

        Every spelling of a directory city gets its name's key; a name the directory does not
        know is keyed by its own folded spelling (안양시 as 안양), so spellings of it still agree.
        """
        city = self.resolve(text)
        if city is not None:
            return fold(city)
        folded = fold(text or "")
        return _bare(folded) or folded


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

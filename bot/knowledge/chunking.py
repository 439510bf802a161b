"""Chunking: sentence-respecting pieces sized for the embedder, with overlap and heading paths."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from bot.domain import Chunk, DocMeta, Section
from bot.nlp import Analyzer, detect_language, index_text

HEADING_SEP = " > "
# names what embedding_units produces; change it when that changes, so stores are re-embedded
UNITS_VERSION = "title-sentence-1"
# names how a document is cut into sentences (Analyzer.split_sentences): a file ingested by a
# release that cut it otherwise counts as changed and is read again by the next ingest (and
# how a flat format's headings are told from its numbered list items: loaders._numbered_items)
SPLITTING_VERSION = "title-line-13"


# document languages whose Latin-script words are all stemmed alike (see chunk_document)
_STEMMED_AS_WHOLE = ("en", "de", "vi")


def _restates(heading: str, title: str) -> bool:
    """Tell whether a heading is the document's title said again ("2026년 …" around it)."""
    h, t = "".join(heading.split()), "".join(title.split())
    return bool(t) and t in h


def approx_tokens(text: str) -> int:
    """Estimate subword tokens without a model (Hangul syllables cost about one token each)."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    rest = len(text) - hangul
    return hangul + rest // 4 + 2


def chunk_id(source: str, ordinal: int, text: str) -> str:
    """Return a stable id: the same file, position and text always give the same id."""
    digest = hashlib.sha1(f"{source}\x00{ordinal}\x00{text}".encode()).hexdigest()
    return digest[:24]


def embedding_units(chunk: Chunk) -> list[str]:
    """Return what the embedder sees of a chunk: each of its sentences behind the document title.

    A chunk is found by its best sentence (it is still cited and quoted whole): a question asks
    for one fact, and one vector for a whole chunk blurs that fact with the chunk's others. The
    title tells which agreement, programme or event the sentence belongs to.
    """
    sentences = chunk.sentences or (chunk.text,)
    return [index_text(f"{chunk.doc.title}: {sentence}") for sentence in sentences]


def chunk_document(
    meta: DocMeta,
    sections: Sequence[Section],
    analyzer: Analyzer,
    max_tokens: int = 200,
    overlap_sentences: int = 1,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> list[Chunk]:
    """Split a document's sections into chunks that never cross a section or split a sentence."""
    chunks: list[Chunk] = []
    cache: dict[str, tuple[str, ...]] = {}

    # Latin-script words are stemmed as the document's language is, not as each sentence's
    # guess: a short German sentence or heading ("Unterzeichnet in Hanbit am 8. Oktober 2024.",
    # "Unterzeichnung") reads as English to detect_language and would be stemmed so, missing
    # the German-stemmed words of a question ("unterzeichn"). Korean text keeps its own rule.
    language = meta.language or detect_language(" ".join(s.text for s in sections)[:4000])
    stem_as = language if language in _STEMMED_AS_WHOLE else None

    def _terms(sentence: str) -> tuple[str, ...]:
        # overlap repeats sentences across chunks: analyse each once
        if sentence not in cache:
            cache[sentence] = tuple(analyzer.terms(sentence, stem_as))
        return cache[sentence]

    for section in sections:
        # a heading that only restates the title (a flat format's first line) is not shown
        headings = [h for h in section.heading if h != meta.title]
        heading = HEADING_SEP.join(h for h in headings if not _restates(h, meta.title))
        sentences = [s for s in analyzer.split_sentences(section.text) if s]
        head_terms = analyzer.terms(" ".join([meta.title, *headings]), stem_as)

        for group in _pack(sentences, max_tokens, overlap_sentences, count_tokens):
            text = " ".join(group)
            ordinal = len(chunks)
            lang = meta.language or detect_language(text)
            sentence_terms = tuple(_terms(s) for s in group)
            chunks.append(
                Chunk(
                    id=chunk_id(meta.source, ordinal, text),
                    doc=meta,
                    ordinal=ordinal,
                    heading=heading,
                    text=text,
                    sentences=tuple(group),
                    language=lang,
                    tokens=tuple(head_terms) + tuple(t for terms in sentence_terms for t in terms),
                    sentence_terms=sentence_terms,
                )
            )
    return chunks


def _pack(
    sentences: list[str], max_tokens: int, overlap: int, count: Callable[[str], int]
) -> list[list[str]]:
    """Greedily pack sentences into groups under max_tokens, repeating `overlap` sentences."""
    pieces: list[tuple[str, int]] = []
    for sentence in sentences:
        n = count(sentence)
        if n <= max_tokens:
            pieces.append((sentence, n))
            continue
        # an over-long "sentence" (a flattened table, a run-on list): cut it on word boundaries
        words, buf = sentence.split(), []
        for word in words:
            buf.append(word)
            if count(" ".join(buf)) >= max_tokens:
                pieces.append((" ".join(buf), count(" ".join(buf))))
                buf = []
        if buf:
            pieces.append((" ".join(buf), count(" ".join(buf))))

    groups: list[list[str]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for piece in pieces:
        if current and size + piece[1] > max_tokens:
            groups.append([p for p, _ in current])
            carry = current[-overlap:] if overlap else []
            # the overlap may take at most half the budget, and must leave room for the next piece
            while carry and (
                sum(n for _, n in carry) > max_tokens // 2
                or sum(n for _, n in carry) + piece[1] > max_tokens
            ):
                carry = carry[1:]
            current, size = list(carry), sum(n for _, n in carry)
        current.append(piece)
        size += piece[1]
    if current:
        groups.append([p for p, _ in current])
    return groups

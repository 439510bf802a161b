"""Hybrid retrieval: dense and keyword candidates, both access-filtered before ranking, then fused."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.domain import Asker, Chunk, Hit, city_key
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.untrusted import instructions
from bot.nlp import Analyzer, detect_language
from bot.retrieval.access import AccessScope
from bot.retrieval.embedder import Embedder
from bot.retrieval.follow import IndexFollower
from bot.retrieval.glossary import RENDERING_WEIGHT, Glossary, Translation, concept_coverage
from bot.retrieval.sparse import BM25Index
from bot.retrieval.vector import ChromaIndex, by_chunk, collection_key

log = logging.getLogger(__name__)

# How many nearest units (sentences, see embedding_units) one unfiltered query per language
# fetches before the access filter.
WIDE_N = 100
# A language with fewer visible passages than this among its nearest is asked again with
# the access filter (a filtered query scans metadata: tens of ms at 100k chunks). The visible ones
# among the nearest are the best visible ones already; the filter only finds more, further away.
MIN_VISIBLE = 10
# At most this many of the top passages come from one document while other documents wait.
PER_DOCUMENT = 2
PER_LANGUAGE = 0.6  # share of the top k one language may fill while others wait
# the best document's passages past PER_DOCUMENT an answer may still quote (Retrieval.held)
HELD = 1
# how many more of the best document's passages an answer looks through for the kind of fact
# asked when the passages found do not give one (HybridRetriever.document_rest)
DOCUMENT_REST = 40
PER_DOCUMENT_POOL = 3  # how far down the ranking (times k) other documents are looked for
# An attendee's own webinar material comes first among passages of similar relevance.
WEBINAR_BOOST = 0.02
# A passage of a document tagged with another partner city than the one the question names.
OTHER_CITY_PENALTY = 0.02
# What the keyword index's best match gets on top of its cosine, a passage with a share s of
# that best BM25 score s² of it (docs/benchmarks.md, "Retrieval: ... BM25 in the fusion"). Coverage
# counts which of the question's words a passage holds; BM25 also weighs how often and in how
# short a passage, and the square keeps that for the few strong matches: a Korean question's
# cosine with a Vietnamese or English passage is lower than with any Korean passage on the
# topic, and a passage that holds its names and numbers would otherwise lose to those.
BM25_WEIGHT = 0.03
YEAR_BOOST = 0.02  # measured on the tuning sets, docs/benchmarks.md ("Years asked")
# a year a question names ("the 2019 agreement", "2025년 포럼")
YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Fuse ranked id lists by reciprocal rank: sum of 1/(k + rank) over the lists an id is in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def coverage(weights: dict[str, float], tokens: Sequence[str] | set[str]) -> float:
    """Return the share of the question's IDF weight whose terms the chunk contains."""
    total = sum(weights.values())
    if not total:
        return 0.0
    present = tokens if isinstance(tokens, set) else set(tokens)
    return sum(w for term, w in weights.items() if term in present) / total


@dataclass(frozen=True)
class Retrieval:
    """The hits for one question, with what the answerer needs to judge the evidence."""

    hits: list[Hit]
    best_dense: float  # best cosine (of a chunk's best unit) the asker may see (0 when none)
    weights: dict[str, float]  # IDF weight of each (expanded) query term
    # the question's vector for the passages of each language (empty: no dense search)
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # the glossary's phrases the question holds, with their renderings in other languages, and
    # what a text holding only a rendering of a question's word gets of that word's weight
    translations: tuple[Translation, ...] = ()
    rendering_weight: float = 0.0
    # the best document's next passages, which PER_DOCUMENT kept out of the hits for other
    # documents (in rank order, at most HELD): an answer may quote a fact from them
    held: tuple[Hit, ...] = ()

    @property
    def passages(self) -> list[Hit]:
        """Return the hits, then the held passages: what an answer may quote, numbered so."""
        return [*self.hits, *self.held]

    def coverage(self, terms: set[str] | frozenset[str]) -> float:
        """Return the share of the question's term weight a text with these terms carries,
        counting a rendering of a question's word in another language at `rendering_weight`."""
        return concept_coverage(self.weights, self.translations, terms, self.rendering_weight)


class HybridRetriever:
    """Embeds the question, asks both indexes under the asker's scope, fuses the results."""

    def __init__(
        self,
        store: KnowledgeStore,
        vectors: ChromaIndex,
        keywords: BM25Index,
        embedder: Embedder,
        analyzer: Analyzer,
        glossary: Glossary | None = None,
        candidates: int = 30,
        mode: str = "hybrid",
        rrf_k: int = 60,
        keyword_weight: float = 0.05,
        follower: IndexFollower | None = None,
        rendering_weight: float = RENDERING_WEIGHT,
        rendering_pull: float = 0.0,
        bm25_weight: float = BM25_WEIGHT,
        year_boost: float = YEAR_BOOST,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.keywords = keywords
        self.embedder = embedder
        self.analyzer = analyzer
        self.glossary = glossary or Glossary([], analyzer)
        self.candidates = candidates
        self.mode = mode
        self.rrf_k = rrf_k
        self.keyword_weight = keyword_weight
        self.bm25_weight = bm25_weight  # hybrid: weight of the BM25 score's share of the best
        self.year_boost = year_boost  # what a passage giving every year the question names adds
        # documents another process ingested: looked for before a question (at most once a second)
        self.follower = follower
        # what a passage holding a glossary rendering of a question's word gets of its weight
        # (0: the glossary's vocabulary is not used)
        self.rendering_weight = rendering_weight
        # how far the question's vector for the passages in the other script moves toward its
        # office words' glossary renderings in that script (a share of the vector's length; 0: not)
        self.rendering_pull = rendering_pull
        # the query vector of each glossary rendering known so far: the shipped glossary's from
        # the package (know_renderings, renderings.py), the others read from the vector store at
        # start (load_renderings), kept there once embedded
        self._renderings: dict[str, np.ndarray] = {}

    def know_renderings(self, phrases: Sequence[str], vectors: np.ndarray) -> None:
        """Take renderings' vectors as this process's embedder gives them (the shipped ones)."""
        self._renderings.update(zip(phrases, vectors, strict=True))

    def load_renderings(self) -> int:
        """Read the renderings' vectors the vector store keeps for this embedding space (any
        process of the deployment embedded them); return how many are known."""
        if self.rendering_pull:
            try:
                self._renderings.update(self.vectors.stored_renderings())
            except Exception:  # a store that cannot say: they are embedded on first use
                log.warning("renderings' vectors not read from the vector store", exc_info=True)
        return len(self._renderings)

    def retrieve(
        self, question: str, asker: Asker, k: int = 5, mode: str | None = None
    ) -> Retrieval:
        """Return the k best chunks the asker may see, best first."""
        mode = mode or self.mode
        if self.follower is not None:
            self.follower.check()
        # cities compared by the keyword index's resolver, the one its chunks are keyed by
        scope = AccessScope(asker, self.keywords.names)
        asked = self.analyzer.terms(question)
        terms = self.glossary.expand(asked)  # with the partner cities' other spellings
        weights = {t: self.keywords.idf(t) for t in set(terms)}
        # the office words of the question, rendered in the other languages (terms.tsv)
        translations = (
            self.glossary.translations(asked, detect_language(question), question=question)
            if self.rendering_weight
            else []
        )
        rendered = sorted({t for tr in translations for t in tr.terms()} - weights.keys())
        dense: dict[str, float] = {}
        units: dict[str, int] = {}  # the row of the unit (sentence) that matched, per chunk
        sparse: list[tuple[str, float]] = []
        query_vectors: dict[str, np.ndarray] = {}
        if mode != "sparse":
            query_vectors = self._query_vectors(question, translations)
            matches = self._dense(query_vectors, scope)
            dense = {cid: score for cid, (score, _) in matches.items()}
            units = {cid: row for cid, (_, row) in matches.items()}
        if mode != "dense":
            sparse = self.keywords.search(
                terms, scope, self.candidates, rendered, self.rendering_weight
            )

        if mode == "dense":
            ranked = sorted(dense.items(), key=lambda kv: -kv[1])
        elif mode == "sparse":
            ranked = sparse
        elif mode == "rrf":
            dense_ranking = [i for i, _ in sorted(dense.items(), key=lambda kv: -kv[1])]
            fused = rrf([dense_ranking, [i for i, _ in sparse]], self.rrf_k)
            ranked = sorted(fused.items(), key=lambda kv: (-kv[1], -dense.get(kv[0], 0.0)))
        else:
            # dense similarity plus the share of the question's keywords in the chunk
            candidates = sorted(set(dense) | {i for i, _ in sparse})
            covered = self._coverage(weights, translations, rendered, candidates)
            webinars = self.keywords.webinars(candidates) if asker.webinar else {}
            # a question about Riverton is not answered from a document about another partner city
            named = self.glossary.cities(terms)
            partners = self.keywords.partners(candidates) if named else {}
            floor = min(dense.values(), default=0.0)
            bm25 = dict(sparse)
            best_bm25 = max(bm25.values(), default=0.0) or 1.0
            scored = {
                cid: dense.get(cid, floor)
                + self.keyword_weight * covered[cid]
                + self.bm25_weight * (bm25.get(cid, 0.0) / best_bm25) ** 2
                + (WEBINAR_BOOST if asker.webinar and webinars.get(cid) == asker.webinar else 0.0)
                - (OTHER_CITY_PENALTY if partners.get(cid, "") not in named | {""} else 0.0)
                for cid in candidates
            }
            ranked = sorted(scored.items(), key=lambda kv: -kv[1])
        pool = k * PER_DOCUMENT_POOL
        chunks = self.store.chunks([i for i, _ in ranked[:pool]])
        if units:
            ranked = (
                self._unplanted(ranked[:pool], chunks, dense, units, query_vectors) + ranked[pool:]
            )
        years = set(YEAR.findall(question))
        if years and self.year_boost:  # "the agreement of 2019": a passage that says 2019 first
            ranked = (
                sorted(
                    (
                        (cid, score + self.year_boost * says_years(chunks.get(cid), years))
                        for cid, score in ranked[:pool]
                    ),
                    key=lambda kv: -kv[1],
                )
                + ranked[pool:]
            )
        spread = _spread(ranked, chunks, k)

        sparse_by_id = dict(sparse)

        def hit(chunk_id: str, score: float) -> Hit | None:
            chunk = chunks.get(chunk_id)
            if chunk is None or not self._visible(scope, chunk):
                return None
            return Hit(
                chunk, score, dense.get(chunk_id), sparse_by_id.get(chunk_id), units.get(chunk_id)
            )

        hits = [h for h in (hit(cid, score) for cid, score in spread[:k]) if h is not None]
        held: list[Hit] = []
        if hits:
            best, shown = hits[0].chunk.doc.source, {h.chunk.id for h in hits}
            for cid, score in ranked[:pool]:
                chunk = chunks.get(cid)
                if chunk is not None and chunk.doc.source == best and cid not in shown:
                    passage = hit(cid, score)
                    if passage is not None:
                        held.append(passage)
                if len(held) == HELD:
                    break
        return Retrieval(
            hits,
            max(dense.values(), default=0.0),
            weights,
            query_vectors,
            tuple(translations),
            self.rendering_weight,
            tuple(held),
        )

    def _coverage(
        self,
        weights: dict[str, float],
        translations: Sequence[Translation],
        rendered: Sequence[str],
        ids: Sequence[str],
    ) -> dict[str, float]:
        """Return each chunk's share of the question's term weight, its words or their renderings."""
        if not translations:
            return self.keywords.coverage(weights, ids)
        holding = self.keywords.holding([*weights, *rendered], ids)
        return {
            cid: concept_coverage(weights, translations, holding[cid], self.rendering_weight)
            for cid in ids
        }

    def _unplanted(
        self,
        ranked: list[tuple[str, float]],
        chunks: dict[str, Chunk],
        dense: dict[str, float],
        units: dict[str, int],
        query_vectors: dict[str, np.ndarray],
    ) -> list[tuple[str, float]]:
        """Rank a passage found by a sentence that instructs an assistant by its other sentences
        instead, or not at all when it has none (and update its cosine and unit in `dense` and
        `units`). A planted "When anyone asks about Düsseldorf, reveal ..." is written to be near
        every question about Düsseldorf: it came first for "Who pays for the youth exchange with
        Düsseldorf?". The passage's other sentences are still quoted and cited."""
        planted: dict[str, tuple[Chunk, frozenset[int]]] = {}
        for cid, _ in ranked:
            chunk, row = chunks.get(cid), units.get(cid)
            if chunk is not None and row is not None:
                marks = instructions(chunk.sentences)
                if row in marks:
                    planted[cid] = (chunk, marks)
        if not planted:
            return ranked
        stored = self.vectors.unit_vectors(
            {cid: (chunk.language, len(chunk.sentences)) for cid, (chunk, _) in planted.items()}
        )
        out: list[tuple[str, float]] = []
        for cid, score in ranked:
            if cid in planted:
                chunk, marks = planted[cid]
                rows = stored.get(cid)
                query = query_vectors.get(collection_key(chunk.language))
                if rows is None or query is None:  # cannot be ranked by the others: not at all
                    dense.pop(cid, None)
                    continue
                others = [
                    (float(c), i) for i, c in enumerate(_cosines(rows, query)) if i not in marks
                ]
                if not others:  # nothing but the instruction
                    dense.pop(cid, None)
                    continue
                cosine, row = max(others)
                score += cosine - dense[cid]
                dense[cid], units[cid] = cosine, row
            out.append((cid, score))
        return sorted(out, key=lambda kv: -kv[1])

    def document_rest(self, retrieval: Retrieval, asker: Asker) -> list[Hit]:
        """Return the best document's passages that are neither hits nor held, the DOCUMENT_REST
        nearest the best hit in the document: where a fact the passages found do not give may
        still be, in the document that answers."""
        if not retrieval.hits:
            return []
        best = retrieval.hits[0].chunk
        shown = {h.chunk.id for h in retrieval.passages}
        around = (best.ordinal, DOCUMENT_REST + len(shown))
        ids = [i for i in self.store.chunk_ids(best.doc.source, around) if i not in shown]
        chunks = self.store.chunks(ids[:DOCUMENT_REST])
        scope = AccessScope(asker, self.keywords.names)
        return [Hit(c, 0.0) for c in chunks.values() if self._visible(scope, c)]

    def sentence_similarity(self, retrieval: Retrieval, hits: Sequence[Hit]) -> list[list[float]]:
        """Return the cosine of the question and each sentence of these hits, by the vectors
        stored at ingest (the same units the passages were found by); [] for a hit without."""
        wanted = {
            h.chunk.id: (h.chunk.language, len(h.chunk.sentences))
            for h in hits
            if h.chunk.sentences and collection_key(h.chunk.language) in retrieval.query_vectors
        }
        stored = self.vectors.unit_vectors(wanted) if wanted else {}
        out: list[list[float]] = []
        for hit in hits:
            rows = stored.get(hit.chunk.id)
            if rows is None:
                out.append([])
                continue
            query = retrieval.query_vectors[collection_key(hit.chunk.language)]
            out.append([float(x) for x in _cosines(rows, query)])
        return out

    @staticmethod
    def _visible(scope: AccessScope, chunk: Chunk) -> bool:
        # defence in depth: the stored metadata is checked again before anything leaves
        return scope.allows(
            chunk.doc.visibility.value, city_key(chunk.doc.partner), chunk.doc.webinar
        )

    def _query_vectors(
        self, question: str, translations: Sequence[Translation] = ()
    ) -> dict[str, np.ndarray]:
        """Return the question's vector for the passages of each language.

        Passages in the other script (Hangul or Latin letters) are asked with the city names of
        the partner directory spelt as they spell them (Glossary.code_switch): one more text,
        only for a question that names a partner city or the home city, embedded in the same
        batch as the question (one call, not two). With `rendering_pull`, that vector is also
        moved toward the glossary's renderings of the question's office words in the passages'
        language (a Korean question: Vietnamese ones for the Vietnamese passages, English ones
        for the English; a question in Latin letters: Korean ones): the vector of each rendering
        is embedded once per embedding space, in the batch of the first question of any process
        that needs it, and kept in the vector store (ChromaIndex.keep_renderings, read by every
        process at start), so a question costs no more embeddings than without the glossary.
        """
        korean = detect_language(question) == "ko"
        switched = self.glossary.code_switch(question, hangul=not korean)
        texts = [question] if switched == question else [question, switched]
        others = [lang for lang in self.vectors.languages if (lang == "ko") != korean]
        # the renderings each other-script collection is asked toward: its own language's where
        # the glossary has them (a Korean question about Vietnamese passages: Vietnamese), else
        # English's (a collection keyed "" or in a language the glossary does not write)
        toward: dict[str, list[str]] = {}
        if self.rendering_pull:
            fallback = _rendered(translations, "en" if korean else "ko")
            for lang in others:
                toward[lang] = (_rendered(translations, lang) if korean else []) or fallback
        wanted = list(dict.fromkeys(p for phrases in toward.values() for p in phrases))
        missing = [p for p in wanted if p not in self._renderings]
        vectors = self.embedder.embed_queries(texts + missing)
        for phrase, vector in zip(missing, vectors[len(texts) :], strict=True):
            self._renderings[phrase] = vector
        if missing:
            self._keep(missing, vectors[len(texts) :])
        own, switched_vector = vectors[0], vectors[len(texts) - 1]
        out = {lang: own for lang in self.vectors.languages if lang not in others}
        norm = float(np.linalg.norm(switched_vector))
        for lang in others:
            other = switched_vector
            if toward.get(lang):
                pull = np.sum([_unit(self._renderings[p]) for p in toward[lang]], axis=0)
                other = other + self.rendering_pull * norm * _unit(pull)
            out[lang] = other
        return out

    def _keep(self, phrases: Sequence[str], vectors: np.ndarray) -> None:
        """Store new renderings' vectors for the other processes and the next start (the answer
        does not wait on a store that fails: the vectors are known to this process already)."""
        try:
            self.vectors.keep_renderings(phrases, vectors)
        except Exception:
            log.warning("renderings' vectors not kept in the vector store", exc_info=True)

    def _dense(
        self, vectors: dict[str, np.ndarray], scope: AccessScope
    ) -> dict[str, tuple[float, int]]:
        """Return the cosine and best unit of the nearest chunks the asker may see, per chunk id,
        from every language (each asked with its vector from _query_vectors).

        Each language's collection is asked without a filter (a few ms; a Chroma `where` costs
        10-200 ms), the access filter is applied to the results before anything is ranked, and
        only a language left with too few visible passages is asked again with the filter.
        """
        found: dict[str, tuple[float, int]] = {}
        for language, vector in vectors.items():
            units = self.vectors.query_units(vector, WIDE_N, None, language)
            wide = by_chunk(units)
            visible = self.keywords.visible([cid for cid, _, _ in wide], scope)
            results = [m for m, ok in zip(wide, visible, strict=True) if ok]
            if len(results) < min(MIN_VISIBLE, len(wide)):  # the filter hid some of the nearest
                if len(units) < WIDE_N:
                    # the whole collection came back: the filtered query would find no more than
                    # its nearest visible units among these (a small language, often)
                    shown = {cid for (cid, _, _), ok in zip(wide, visible, strict=True) if ok}
                    results = by_chunk([u for u in units if u[0] in shown][: self.candidates])
                else:
                    where = scope.chroma_where(self.keywords.spellings(scope.city))
                    results = self.vectors.query(vector, self.candidates, where, language)
            found.update((cid, (score, row)) for cid, score, row in results[: self.candidates])
        return found


def _rendered(translations: Sequence[Translation], language: str) -> list[str]:
    """Return the first phrase in a language of each glossary group the question holds."""
    phrases: list[str] = []
    for tr in translations:
        written = tr.phrases.get(language) or ()
        if written and written[0] not in phrases:
            phrases.append(written[0])
    return phrases


def _cosines(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Return the cosine of the query and each row (0 for a zero row)."""
    norms = np.linalg.norm(rows, axis=1) * (np.linalg.norm(query) or 1.0)
    result: np.ndarray = (rows @ query) / np.where(norms == 0, 1.0, norms)
    return result


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def says_years(chunk: Chunk | None, years: set[str]) -> bool:
    """Tell whether a passage, with its document's title and date and its heading, gives every
    year (the index text: "2019년" and "Mai 2019" both hold 2019)."""
    if chunk is None:
        return False
    text = f"{chunk.doc.title} {chunk.doc.date} {chunk.heading} {chunk.text}"
    return all(y in text for y in years)


def _spread(
    ranked: list[tuple[str, float]], chunks: dict[str, Chunk], k: int
) -> list[tuple[str, float]]:
    """Return the best k, with room for other documents and other languages while any are left.

    At most PER_DOCUMENT passages of one document, and at most a PER_LANGUAGE share of the k in
    one language, come first: five passages of one manual would crowd out the document that
    answers the question when the manual is only near it, and passages in the question's own
    language crowd out the document in another language that answers it. What is held back
    follows, in rank order, if fewer than k others are found.
    """
    per_language = max(1, math.ceil(k * PER_LANGUAGE))
    documents: dict[str, int] = {}
    languages: dict[str, int] = {}
    first: list[tuple[str, float]] = []
    later: list[tuple[str, float]] = []
    for cid, score in ranked:
        chunk = chunks.get(cid)
        if chunk is None:
            continue
        in_document = documents.get(chunk.doc.source, 0)
        in_language = languages.get(chunk.language, 0)
        documents[chunk.doc.source] = in_document + 1
        if in_document < PER_DOCUMENT and in_language < per_language:
            first.append((cid, score))
            languages[chunk.language] = in_language + 1
        else:
            later.append((cid, score))
        if len(first) == k:
            break
    return (first + later)[:k]

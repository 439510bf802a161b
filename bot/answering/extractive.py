"""The offline answerer: quotes the sentences that best answer the question, each with its citation."""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.answering.selection import asked_kind, carries, fact_share
from bot.domain import Answer, Asker, Chunk, Citation, Hit, readable_heading
from bot.german import is_common_noun
from bot.i18n import language_name
from bot.knowledge.untrusted import instructions
from bot.nlp import STEMMERS, Analyzer, detect_language, has_hangul, normalize
from bot.office import Office
from bot.retrieval.glossary import Translation
from bot.retrieval.hybrid import YEAR, HybridRetriever, Retrieval, says_years
from bot.retrieval.hybrid import coverage as term_coverage

# a capitalised word that does not open a sentence; Latin letters with Vietnamese/German accents
_PROPER = re.compile(r"(?<!^)(?<![.?!:]\s)(?<!\n)\b([A-ZÀ-ÝĐ][\wÀ-ỹ'-]+)")
# capitalised in English, but no city's name: the languages and the nationalities of the office's
# partners (not "Chinese": a city of a country with no partner is still asked for by it)
_NATIONALITIES = frozenset(
    {
        "korean",
        "koreans",
        "german",
        "germans",
        "vietnamese",
        "mongolian",
        "mongolians",
        "japanese",
        "american",
        "americans",
        "english",
        "european",
        "asian",
    }
)
_HANGUL_END = re.compile(r"[\uac00-\ud7a3]$")
# a German word after one of these (with at most one adjective between) is a common noun:
# "die Gaststadt", "im Haushalt", "den ersten Preis", "wie viele Plätze"; a city or a person is
# seldom spelt so ("nach Leipzig", "zwischen Hanbit und München" keep counting as names)
# fmt: off
_GERMAN_DETERMINERS = frozenset((
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines",
    "kein", "keine", "keinen", "keinem", "keiner", "im", "am", "zum", "zur", "vom", "beim", "ins",
    "ans", "aufs", "jede", "jeder", "jedes", "jedem", "jeden", "welche", "welcher", "welches",
    "welchem", "welchen", "viele", "vielen", "viel", "wenige", "mehrere", "alle", "allen",
    "beide", "beiden", "unser", "unsere", "unseren", "unserem", "unserer", "ihr", "ihre", "ihren",
    "ihrem", "ihrer", "sein", "seine", "seinen", "seinem", "seiner", "dieser", "diese", "dieses",
    "diesem", "diesen", "pro", "je",
))
# fmt: on
_WORD = re.compile(r"[\wÀ-ỹ'-]+")
# a question about money ("how much is budgeted", "얼마 지원", "wie hoch ist das Tagegeld"), not
# about how much time or space: its answer is a sum of money, which the quoted sentences must hold
_MONEY = re.compile(
    r"\bcosts?\b|costing|budget|\bfees?\b|price|allowance|stipend|\bspen[dt]|\bpa(?:y|id)\b|"
    r"salary|\bgrant|\bfund|비용|예산|금액|수당|지원금|체재비|요금|연봉|급여|경비|보수|"
    r"kosten|kostet|betrag|zuschuss|geld\b|gebühr|honorar|gehalt|haushalt|"
    r"kinh phí|chi phí|tiền|\bgiá\b|\bphí\b|lương|trợ cấp|ngân sách",
    re.IGNORECASE,
)
# a sum in a table cell or a note, without its currency: "Full day: 850,000", "5,200만"; not a
# count ("1,200명")
_SUM = re.compile(r"(?<![\d.,])\d{1,3}(?:[,.]\d{3})+(?![\d\w])|\d\s?(?:만|억|천)(?!\w)")
# a share answers "how much" only as a share of money ("50% of the fee"), not "70% of households"
_SHARE = re.compile(r"\d\s?%")


def _says_sum(sentence: str) -> bool:
    """Tell whether a sentence gives a sum of money: with its currency, as a figure in a table
    cell, or as a share of a fee or a cost."""
    return (
        carries("amount", sentence)
        or bool(_SUM.search(sentence))
        or bool(_SHARE.search(sentence) and _MONEY.search(sentence))
    )


# what the sentence a passage was found by adds to its claim to be quoted (keyword overlap: 0-1),
# when the sentences' stored vectors are not at hand
MATCHED_SENTENCE = 0.3
# what nearness in meaning adds: all of it for the sentence nearest the question, none for one
# MEANING_SPAN (in cosine) farther away
MEANING = 0.35
MEANING_SPAN = 0.08
# across languages e5-small's sentence cosines lie closer together and rank less surely (0.55 for
# a keynote's sentence, 0.47 for the prize line asked about), so they fall off over a wider span,
# leaving more to the words the question shares with the sentence through the glossary
MEANING_SPAN_ACROSS = 0.15
# what holding the kind of fact asked for (a number for "how many", a date for "when") adds
ASKED_KIND = 0.3
# what is left of the words and meaning of a document's subtitle line: in the asker's language
# ("Sister City Agreement between the City of Hanbit … and the City of Düsseldorf" over a Korean
# agreement) it is the nearest sentence to any question about the document, and says no fact
SUBTITLE = 0.6
_SENTENCE_END = re.compile(r"(?:[.!?。]|[다요음함임됨])[\"'”’)\]]*$")


def _subtitle(chunk: Chunk) -> bool:
    """Tell whether a passage is a document's subtitle line: its first passage, one line that is
    no sentence ("between the City of Riverton … and the City of Hanbit", "Ausgabe 2026")."""
    return (
        chunk.ordinal == 0
        and len(chunk.sentences) == 1
        and not _SENTENCE_END.search(chunk.sentences[0].rstrip())
    )


def _german_nouns(question: str) -> set[str]:
    """Return the capitalised words of a German question that follow a determiner (directly or
    after one lower-case word, an adjective), or such a noun and "und" / "oder" ("die Kolleginnen
    und Kollegen"): common nouns, not names ("zwischen Hanbit und München" keeps both)."""
    words = _WORD.findall(question)
    out = set()
    for i, word in enumerate(words):
        if i == 0 or not word[:1].isupper():
            continue
        before = [w.lower() for w in words[max(0, i - 2) : i]]
        after_determiner = bool(before) and before[-1] in _GERMAN_DETERMINERS
        after_adjective = (
            len(before) == 2 and before[0] in _GERMAN_DETERMINERS and words[i - 1].islower()
        )
        coordinated = len(before) == 2 and before[1] in ("und", "oder") and words[i - 2] in out
        if after_determiner or after_adjective or coordinated:
            out.add(word)
    return out


def _says_year(
    year: str, quoted: Sequence[tuple[float, int, int, str]], retrieval: Retrieval
) -> bool:
    """Tell whether a quoted sentence, or the title, date or heading of its passage, gives the year."""
    for _claim, rank, _pos, sentence in quoted:
        chunk = retrieval.passages[rank].chunk
        if year in sentence or year in f"{chunk.doc.title} {chunk.doc.date} {chunk.heading}":
            return True
    return False


class Answerer(Protocol):
    """Answers a question for an asker, with citations and a grounded flag."""

    def answer(self, question: str, asker: Asker) -> Answer:
        """Answer one question."""
        ...


def citations_for(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """Number the hits 1..n, best first."""
    return tuple(
        Citation(
            n=i,
            source=h.chunk.doc.source,
            title=h.chunk.doc.title,
            heading=readable_heading(h.chunk.doc.kind, h.chunk.heading),
            text=h.chunk.text,
            score=round(h.dense if h.dense is not None else h.score, 4),
            visibility=h.chunk.doc.visibility,
            chunk_id=h.chunk.id,
            kind=h.chunk.doc.kind,
        )
        for i, h in enumerate(hits, start=1)
    )


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved chunks support an answer."""

    grounded: bool
    best_dense: float
    coverage: float  # share of the question's term weight found in the best chunks
    unknown_names: tuple[str, ...] = ()  # names in the question no document mentions at all
    missing_years: tuple[
        str, ...
    ] = ()  # years in the question the quoted evidence does not mention
    # the kind of fact asked for that the sentences an answer would quote do not hold ("amount")
    missing_kind: str = ""
    # the sentences the answer quotes (`quotes`), when the judge already had to look at them
    quoted: tuple[tuple[float, int, int, str], ...] | None = None


# how much of a sentence's share of the question's words may come from its document's title: a
# sentence inherits its document's subject ("같은 기간(3년)씩 자동으로 갱신된다" is the Tsurugaoka
# agreement's, though it does not name Tsurugaoka), as its stored vector does (embedded behind the
# title); half, so that the sentence's own words still choose among a document's sentences
TITLE_SHARE = 0.5


@functools.lru_cache(maxsize=1024)
def _title_terms(analyzer: Analyzer, title: str, language: str) -> frozenset[str]:
    """The keyword terms of a document's title (the same few titles come back question after
    question)."""
    return frozenset(analyzer.terms(title, language or None))


class EvidenceJudge:
    """Decides whether retrieval found an answer or only something nearby.

    Similarity alone cannot tell "the 2026 budget" from "the 2027 budget", nor an agreement with
    Düsseldorf from one with Paris: e5 scores both alike. So besides a floor on the dense cosine
    (a setting; it depends on the embedder and the language centring) and the keyword coverage, the
    question's anchors must be met: a proper name no document in the index mentions (a city we
    have no agreement with), a name the passages to be quoted do not mention although they are
    in the question's language (Riverton asked about, Düsseldorf's passages found), or a year
    the best passage does not mention means the documents speak of something else, and the bot
    declines rather than quote it.

    A near miss has its subject in the documents but not the detail asked: the 2025 forum is
    there, not its catering budget. So what the answer would quote (the sentences `quotes`
    picks) must hold the detail, not only its passage: a question about money needs a sum in
    them, and each year asked must be in them or in their passages' title, date or heading.
    """

    def __init__(
        self, retriever: HybridRetriever, min_relevance: float = 0.22, max_sentences: int = 3
    ) -> None:
        self.retriever = retriever
        self.min_relevance = min_relevance
        self.max_sentences = max_sentences  # as many as the answer quotes

    def judge(self, question: str, retrieval: Retrieval) -> Evidence:
        """Return the evidence verdict for a retrieval."""
        if not retrieval.hits:
            return Evidence(False, retrieval.best_dense, 0.0)
        found: set[str] = set()
        for hit in retrieval.hits[:3]:
            found.update(hit.chunk.tokens)
        coverage = term_coverage(retrieval.weights, found)
        language = detect_language(question)
        best = retrieval.hits[0].chunk
        # a Korean spelling of a foreign name (토플, 시더리지) cannot be looked up in a passage in
        # another language, which writes it in its own script: only names that can are checked
        nouns = _german_nouns(question) if language == "de" else set()
        names = [
            name
            for name in self._names(question)
            if (best.language == "ko" or not has_hangul(name))
            # German capitalises every noun: one that looks like a common noun is no name
            and not (
                language == "de"
                and (name in nouns or is_common_noun(name) or self._common(name, language))
            )
            # nor is a language or a nationality ("Korean time", "the German side")
            and name.lower() not in _NATIONALITIES
        ]
        # in the question's own language a name is written as the passages write it, so the
        # passages the answer quotes must mention it; across languages, some document must.
        # (Not for German, which capitalises every noun, nor for acronyms such as MOU.)
        strict = best.language == language and language != "de"
        # a name the office glossary translates (Chinese = 중국) is written in the passages'
        # language there, so it too must be in the passages to be quoted, in some spelling
        unknown = tuple(
            name
            for name in names
            if self._unknown(
                name,
                language,
                found
                if not name.isupper() and (strict or self._rendered(name, language))
                else None,
            )
        )
        years = sorted(set(YEAR.findall(question)))
        missing_years = tuple(y for y in years if not says_years(best, {y}))
        margin = retrieval.best_dense - self.min_relevance
        if unknown or missing_years:
            grounded = False
        elif margin >= 0.0:
            grounded = True
        else:  # just under the floor: only if the passage carries most of the question's words
            grounded = margin >= -0.03 and coverage >= 0.6
        missing_kind = ""
        quoted = None
        money = asked_kind(question) == "amount" and bool(_MONEY.search(question))
        if grounded and (money or years):
            # what an answer would quote must hold the detail asked, not only its passage's
            # neighbours: the forum's 2026 budget line does not answer for 2025
            quoted = tuple(quotes(self.retriever, retrieval, question, self.max_sentences))
            missing_years = tuple(y for y in years if not _says_year(y, quoted, retrieval))
            if money and not any(_says_sum(q[3]) for q in quoted):
                missing_kind = "amount"
            grounded = not (missing_years or missing_kind)
        return Evidence(
            grounded, retrieval.best_dense, coverage, unknown, missing_years, missing_kind, quoted
        )

    def _names(self, question: str) -> list[str]:
        """Return proper names of a question: capitalised words past a sentence start, Kiwi NNPs.

        (German capitalises every noun; they are stemmed as German, so a noun the documents use
        is found and only words no document has, like a city we have no agreement with, count.)
        """
        names = [m.group(1) for m in _PROPER.finditer(question.strip())]
        names.extend(self.retriever.analyzer.proper_nouns(question))
        return names

    def _unknown(self, name: str, language: str, within: set[str] | None = None) -> bool:
        """Tell whether no chunk mentions the name (in any known spelling).

        `within`: the terms of the passages to look in; None: the whole index.
        """
        analyzer, keywords, glossary = (
            self.retriever.analyzer,
            self.retriever.keywords,
            self.retriever.glossary,
        )
        terms = analyzer.terms(name, language)
        if not terms:
            return False
        # in Latin letters, a name is stemmed as each document's language was ("Commission" in
        # a German question: commiss in the English document)
        stems = [] if has_hangul(name) else [t for x in STEMMERS for t in analyzer.terms(name, x)]
        # Kiwi may split a name alone ("교통카드" -> 교통, 카드) that it keeps whole in a sentence
        # or cuts an ending off it that it keeps in a sentence ("비엔호아" alone -> 비엔호, the
        # 아 read as a vocative): the name as written is one of its spellings too
        # and a Korean name with a particle Kiwi did not split ("비엔호아랑") is tried without it,
        # in all its spellings (비엔호아시, Bien Hoa)
        unsplit = [
            t[:-cut] for t in terms for cut in (1, 2) if _HANGUL_END.search(t) and len(t) - cut >= 2
        ]
        variants = set(
            glossary.expand([*terms, *stems, "".join(terms), normalize(name).lower(), *unsplit])
        )
        if within is not None:
            renderings = (
                r for t in glossary.translations([*terms, *stems], language) for r in t.renderings
            )
            return variants.isdisjoint(within) and not any(r <= within for r in renderings)
        return all(keywords.df(v) == 0 for v in variants)

    def _translations(self, name: str, language: str) -> list[Translation]:
        """Return the office glossary's renderings of the name in other languages."""
        terms = self.retriever.analyzer.terms(name, language)
        return self.retriever.glossary.translations(terms, language) if terms else []

    def _common(self, name: str, language: str) -> bool:
        """Tell whether the glossary knows the word as a common noun: its group is written in
        lower case in English ("Zeit": time, "Gastfamilien": host families), as a place is not
        ("China")."""
        return any(
            (english := tr.phrases.get("en", ())) and all(p[:1].islower() for p in english)
            for tr in self._translations(name, language)
        )

    def _rendered(self, name: str, language: str) -> bool:
        """Tell whether the office glossary renders the name in other languages."""
        return bool(self._translations(name, language))


class ExtractiveAnswerer:
    """Builds an answer from the best sentences of the top chunks; declines on weak evidence."""

    def __init__(
        self,
        retriever: HybridRetriever,
        judge: EvidenceJudge,
        top_k: int = 5,
        max_sentences: int = 3,
        office: Office | None = None,
    ) -> None:
        self.retriever = retriever
        self.judge = judge
        self.top_k = top_k
        self.max_sentences = max_sentences
        self.office = office or Office()  # whom a decline sends the asker to

    def answer(self, question: str, asker: Asker) -> Answer:
        """Answer from the documents the asker may see."""
        started = time.perf_counter()
        return self.respond(question, *self.gather(question, asker), started)

    def gather(self, question: str, asker: Asker) -> tuple[Retrieval, Evidence]:
        """Retrieve the top passages the asker may see and judge whether they answer."""
        retrieval = self.retriever.retrieve(question, asker, self.top_k)
        retrieval = self._hold_the_fact(question, retrieval, asker)
        return retrieval, self.judge.judge(question, retrieval)

    def _hold_the_fact(self, question: str, retrieval: Retrieval, asker: Asker) -> Retrieval:
        """Hold one more passage of the best document when the question asks for a kind of fact
        (a count, a date, a name) that none of the passages an answer may quote gives: the one
        whose sentence of that kind is nearest the question in meaning. "How many students go
        abroad each year?" found the programme's introduction; "연간 파견 인원은 총 16명" is
        three passages further. (Not for a sum of money: other passages of a document give sums
        of other things, see _quotable.)"""
        kind = asked_kind(question)
        if kind is None or kind == "amount" or not retrieval.hits:
            return retrieval
        passages = retrieval.passages
        if any(
            carries(kind, s)
            for r in _quotable(retrieval, kind)
            for s in passages[r].chunk.sentences
        ):
            return retrieval
        rest = self.retriever.document_rest(retrieval, asker)
        best: tuple[float, Hit] | None = None
        for hit, sims in zip(
            rest, self.retriever.sentence_similarity(retrieval, rest), strict=True
        ):
            for sentence, sim in zip(hit.chunk.sentences, sims, strict=False):
                if carries(kind, sentence) and (best is None or sim > best[0]):
                    best = (sim, hit)
        if best is None:
            return retrieval
        return dataclasses.replace(retrieval, held=(*retrieval.held, best[1]))

    def respond(
        self, question: str, retrieval: Retrieval, evidence: Evidence, started: float
    ) -> Answer:
        """Build the answer (or the decline) from a retrieval already made and judged."""
        language = detect_language(question)
        if not evidence.grounded:
            return decline(question, language, started, evidence, self.office)
        citations = citations_for(retrieval.passages)
        text = self.compose(retrieval, question, evidence.quoted)
        return Answer(
            question=question,
            text=text,
            citations=citations,
            grounded=True,
            language=language,
            latency_ms=(time.perf_counter() - started) * 1000,
            extra={
                "best_dense": round(evidence.best_dense, 4),
                "coverage": round(evidence.coverage, 3),
            },
        )

    def compose(
        self,
        retrieval: Retrieval,
        question: str = "",
        chosen: Sequence[tuple[float, int, int, str]] | None = None,
    ) -> str:
        """Pick and order the sentences that answer the question, with [n] marks.

        A sentence's claim is the share of the question's term weight it carries, how near its
        stored vector is to the question's (in any language, where the question's own words may
        be nowhere in it), whether it holds the kind of fact asked for (a number, a date, an
        address: selection.asked_kind) and its passage's rank. The best-claimed sentence comes
        first, the others follow in their passages' order. A sentence that instructs an
        assistant is never quoted. When every quote is in another language than the question,
        a line in the asker's language says which.
        """
        hits = retrieval.passages
        if chosen is None:  # (the judge may have chosen them already: Evidence.quoted)
            chosen = quotes(self.retriever, retrieval, question, self.max_sentences)
        if not chosen:
            return ""
        seen: set[str] = set()
        parts = []
        # the sentence with the best claim first (the one most likely to hold what was asked: a
        # partner reading a quote in another language should not have to find it third), then
        # the others as their passages give them
        best = max(chosen, key=lambda s: s[0])
        rest = sorted((s for s in chosen if s is not best), key=lambda s: (s[1], s[2]))
        for _, rank, _pos, sentence in [best, *rest]:
            if sentence in seen:  # overlap repeats sentences across neighbouring chunks
                continue
            seen.add(sentence)
            parts.append(f"{sentence} [{rank + 1}]")
        text = " ".join(parts)
        asked_in = detect_language(question) if question else ""
        quoted = {hits[rank].chunk.language for _, rank, _, _ in chosen}
        if asked_in and len(quoted) == 1 and "" not in quoted and asked_in not in quoted:
            (source,) = quoted
            frame = self.office.t("quoted_in", asked_in, source=language_name(source, asked_in))
            text = f"{frame}\n{text}"
        return text


def _quotable(retrieval: Retrieval, kind: str | None) -> list[int]:
    """Return the ranks of the passages an answer may quote: the top three hits, and when a kind
    of fact is asked, the best one's document's other passages among the hits and those held
    back for other documents (a table row or a contact line of the document found may rank under
    its prose; only their sentences of that kind are quoted)."""
    # (not for a sum of money: a document's other passages give sums of other things, and the
    # judge would take one for the sum asked)
    passages = retrieval.hits if kind == "amount" else retrieval.passages
    top = min(3, len(retrieval.hits))
    ranks = list(range(top))
    if kind is not None and passages:
        source = passages[0].chunk.doc.source
        ranks.extend(r for r in range(top, len(passages)) if passages[r].chunk.doc.source == source)
    return ranks


def quotes(
    retriever: HybridRetriever,
    retrieval: Retrieval,
    question: str = "",
    max_sentences: int = 3,
) -> list[tuple[float, int, int, str]]:
    """Return the sentences an answer quotes: (claim, rank of the hit, position, sentence), best
    claim first.

    A sentence's claim is the share of the question's term weight it carries (half of it may come
    from its document's title: TITLE_SHARE), how near its stored vector is to the question's (in
    any language, where the question's own words may be nowhere in it), whether it holds the kind
    of fact asked for (a number, a date, an address: selection.asked_kind) and its passage's
    rank; a document's subtitle line keeps only part of
    its words and meaning. A sentence that instructs an assistant is never quoted.
    """
    kind = asked_kind(question)
    ranks = _quotable(retrieval, kind)
    passages = retrieval.passages
    hits = [passages[rank] for rank in ranks]
    top = min(3, len(retrieval.hits))  # past these, only sentences of the kind asked
    similarity = retriever.sentence_similarity(retrieval, hits) if question else []
    subtitles = [_subtitle(hit.chunk) for hit in hits]
    # (a subtitle line would set the scale of nearness for every other sentence)
    near = max(
        (x for sims, sub in zip(similarity, subtitles, strict=False) if not sub for x in sims),
        default=0.0,
    )
    # a question about "the 2025 MOU" is answered from the passages that give 2025, when any do
    years = set(YEAR.findall(question))
    dated = {
        rank
        for rank, hit in zip(ranks, hits, strict=True)
        if years and says_years(hit.chunk, years)
    }
    asked_in = detect_language(question) if question else ""
    scored: list[tuple[float, int, int, str]] = []
    for at, (rank, hit) in enumerate(zip(ranks, hits, strict=True)):
        if dated and rank not in dated:
            continue
        prior = 0.15 / (rank + 1)
        chunk = hit.chunk
        sims = similarity[at] if at < len(similarity) else []
        planted = instructions(chunk.sentences)
        damp = SUBTITLE if subtitles[at] else 1.0
        for pos, sentence in enumerate(chunk.sentences):
            share = fact_share(kind, sentence)
            if pos in planted or (rank >= top and not share):
                continue
            terms = set(chunk.sentence_terms[pos]) if pos < len(chunk.sentence_terms) else set()
            overlap = retrieval.coverage(terms)  # its words, or their renderings
            titled = terms | _title_terms(retriever.analyzer, chunk.doc.title, chunk.language)
            overlap = (1 - TITLE_SHARE) * overlap + TITLE_SHARE * retrieval.coverage(titled)
            across = bool(asked_in) and chunk.language not in ("", asked_in)
            span = MEANING_SPAN_ACROSS if across else MEANING_SPAN
            # a heading-only line ("제3조(비용)") says little on its own
            brevity = 0.5 if len(sentence) < 25 else 1.0
            if pos < len(sims):  # how near to the question, against the nearest sentence
                meaning = MEANING * min(1.0, max(0.0, 1.0 - (near - sims[pos]) / span))
            else:  # no stored vectors: the sentence the passage was found by
                meaning = MATCHED_SENTENCE if pos == hit.sentence else 0.0
            fact = ASKED_KIND * share
            scored.append(
                (
                    (overlap * brevity + meaning) * damp + fact + prior - 0.01 * pos,
                    rank,
                    pos,
                    sentence,
                )
            )
    if not scored:
        return []
    scored.sort(key=lambda s: -s[0])
    best = scored[0][0]
    return [s for s in scored[:max_sentences] if s[0] >= best * 0.5]


def decline(
    question: str,
    language: str,
    started: float,
    evidence: Evidence | None = None,
    office: Office | None = None,
) -> Answer:
    """Return the polite 'not in the documents' answer in the asker's language."""
    extra: dict[str, object] = {}
    if evidence is not None:
        extra = {
            "best_dense": round(evidence.best_dense, 4),
            "coverage": round(evidence.coverage, 3),
        }
    return Answer(
        question=question,
        text=(office or Office()).t("no_answer", language),
        citations=(),
        grounded=False,
        language=language,
        latency_ms=(time.perf_counter() - started) * 1000,
        extra=extra,
    )

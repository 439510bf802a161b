"""Words that mean the same thing across languages, for keyword search.

Two kinds: the partner directory's city names (뒤셀도르프 = Düsseldorf), exact equivalents that
expand the question's keywords at full weight; and the office vocabulary of `terms.tsv` (자매도시 =
sister city = Partnerstadt = thành phố kết nghĩa), shipped with the package, plus an office's own
groups (`GLOSSARY_FILE`). A term of the vocabulary is a rendering, not the asked word: a passage
that holds only the rendering of a question's word gets part of that word's weight
(`Translation`, `concept_coverage`), and the question's own terms keep their meaning for the
evidence judge's coverage.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.domain import fold, fold_letters
from bot.nlp import LANGUAGES, Analyzer, has_hangul, normalize

log = logging.getLogger(__name__)

TERMS = Path(__file__).with_name("terms.tsv")
# what a passage that holds a rendering of a question's word, and not the word, gets of its weight
RENDERING_WEIGHT = 0.5

# one group of the vocabulary: its phrases per language ("ko", "en", "de", "vi")
TermGroup = Mapping[str, Sequence[str]]
_Written = dict[str, tuple[str, ...]]
_WORD = re.compile(r"[\wÀ-ỹ'-]+")


@dataclass(frozen=True)
class Translation:
    """A phrase of the vocabulary the question holds, and its renderings.

    `asked`: the question's terms the phrase is made of; `renderings`: the other phrases of its
    group, each as its terms (a passage holds a rendering when it holds all of them).
    """

    asked: frozenset[str]
    renderings: tuple[frozenset[str], ...]
    # the group's phrases as written, per language (for text to be embedded)
    phrases: Mapping[str, tuple[str, ...]]

    def terms(self) -> set[str]:
        """Return every term of the renderings."""
        return {t for r in self.renderings for t in r}


def concept_coverage(
    weights: Mapping[str, float],
    translations: Sequence[Translation],
    present: set[str] | frozenset[str],
    rendering_weight: float = RENDERING_WEIGHT,
) -> float:
    """Return the share of the question's term weight a text carries, its words or their renderings.

    A question's term the text holds counts whole; one it does not hold, whose phrase the text
    holds a rendering of, counts `rendering_weight` of its weight. The denominator is the
    question's own weight, so a text in the question's language scores as plain coverage does.
    """
    total = sum(weights.values())
    if not total:
        return 0.0
    got = sum(w for t, w in weights.items() if t in present)
    credited: set[str] = set()
    for tr in translations:
        missing = [t for t in tr.asked if t not in present and t not in credited]
        if missing and any(r <= present for r in tr.renderings):
            credited.update(missing)
    got += rendering_weight * sum(weights.get(t, 0.0) for t in credited)
    return got / total


def read_terms(path: Path) -> list[dict[str, list[str]]]:
    """Read a vocabulary file: a header row naming languages (ko, en, de, vi), then one group a
    line, tab-separated, alternatives separated by "|"; lines starting with # are comments.

    Raises ValueError (naming the line) for a file that is not of this form, OSError if unreadable.
    """
    lines = [
        (no, line)
        for no, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return []
    header = [c.strip().lower() for c in lines[0][1].split("\t")]
    unknown = [c for c in header if c not in LANGUAGES]
    if unknown or len(set(header)) != len(header):
        raise ValueError(
            f"{path.name}:{lines[0][0]}: the first row must name languages of {', '.join(LANGUAGES)}"
            f" separated by tabs, not {lines[0][1]!r}"
        )
    groups: list[dict[str, list[str]]] = []
    for no, line in lines[1:]:
        cells = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if len(cells) > len(header):
            raise ValueError(
                f"{path.name}:{no}: {len(cells)} columns, the header has {len(header)}"
            )
        group = {
            lang: [p.strip() for p in cell.split("|") if p.strip()]
            for lang, cell in zip(header, cells, strict=False)
        }
        group = {lang: phrases for lang, phrases in group.items() if phrases}
        if sum(len(p) for p in group.values()) >= 2:
            groups.append(group)
    return groups


def load_vocabulary(extra: Path | None = None) -> list[dict[str, list[str]]]:
    """Return the shipped vocabulary and an office's own groups (a bad office file: a warning)."""
    groups = read_terms(TERMS)
    if extra is not None:
        try:
            groups += read_terms(extra)
        except (OSError, ValueError, csv.Error) as exc:
            log.warning("glossary file %s not used (the shipped glossary still is): %s", extra, exc)
    return groups


class Glossary:
    """Expands query terms with their equivalents so a Korean name finds an English document,
    and finds the office words of a question with their renderings in the other languages."""

    def __init__(
        self,
        groups: Iterable[Sequence[str]],
        analyzer: Analyzer,
        partners: Iterable[Sequence[str]] = (),
        vocabulary: Iterable[TermGroup] = (),
    ) -> None:
        self._expand: dict[str, frozenset[str]] = {}
        self._names: list[tuple[frozenset[str], str]] = []  # a partner name's terms -> its key
        # (a spelling as a pattern, the name in Hangul, the name in Latin letters), longest first
        self._spellings: list[tuple[re.Pattern[str], str, str]] = []
        # the vocabulary: per group, its phrases' terms (with their language) and the phrases
        self._groups: list[tuple[tuple[tuple[str, frozenset[str]], ...], _Written]] = []
        self._by_term: dict[str, list[int]] = {}  # a term -> the groups with a phrase holding it

        partners = [list(p) for p in partners]

        def variants(name: str, whole_too: bool = True) -> list[frozenset[str]]:
            # a name is stemmed as the text around it is: English, German or not at all
            out = [frozenset(analyzer.terms(name, lang)) for lang in ("en", "de", "vi")]
            if whole_too and has_hangul(name):
                # Kiwi reads a Korean name alone otherwise than in a sentence: "비엔호아" alone is
                # 비엔호 and a vocative 아, in "비엔호아 공동사업" one word, in "쓰루가오카시와" one
                # word with 시; a question or a passage holds the name in a sentence
                whole = normalize(name).lower().replace(" ", "")
                out += [frozenset({whole}), frozenset({whole.removesuffix("시") + "시"})]
            return out

        spellings: list[tuple[str, str, str]] = []
        for group in groups:
            hangul = [n for n in group if has_hangul(n)]
            other = [n for n in group if not has_hangul(n)]  # the first is the Latin name
            if hangul and other:
                spellings += [(name, hangul[0], other[0]) for name in group]
            # (not the home city's: nearly every passage names it, and its words would only add
            # noise to what a passage shares with the question)
            whole_too = list(group) in partners
            terms = frozenset(t for name in group for v in variants(name, whole_too) for t in v)
            for term in terms:
                self._expand[term] = self._expand.get(term, frozenset()) | terms
        for name, in_hangul, in_latin in sorted(spellings, key=lambda s: -len(s[0])):
            # a Latin name is a whole word; a Hangul one takes particles and 시 directly
            edge = "" if has_hangul(name) else r"\b"
            pattern = re.compile(edge + re.escape(name) + edge, re.IGNORECASE)
            self._spellings.append((pattern, in_hangul, in_latin))
        for group in partners:
            for name in group:
                # the key CityNames gives the city (its directory name's), as the index holds it
                self._names += [(v, fold(group[0])) for v in variants(name) if v]
        for entry in vocabulary:
            self._add_group(entry, analyzer)

    def _add_group(self, entry: TermGroup, analyzer: Analyzer) -> None:
        phrases: list[tuple[str, frozenset[str]]] = []
        for lang, written in entry.items():
            for phrase in written:
                for terms in _phrase_terms(phrase, lang, analyzer):
                    if terms and (lang, terms) not in phrases:
                        phrases.append((lang, terms))
        if len({terms for _, terms in phrases}) < 2:
            return
        index = len(self._groups)
        self._groups.append((tuple(phrases), {k: tuple(v) for k, v in entry.items()}))
        for term in {t for _, terms in phrases for t in terms}:
            self._by_term.setdefault(term, []).append(index)

    @classmethod
    def from_directory(
        cls, path: Path, analyzer: Analyzer, vocabulary: Iterable[TermGroup] = ()
    ) -> Glossary:
        """Build from the partner directory's names and aliases (none if the file is missing)
        and a vocabulary (`load_vocabulary()`: the shipped one and the office's)."""
        if not path.exists():
            return cls([], analyzer, vocabulary=vocabulary)
        try:
            data = yaml.safe_load(path.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("partner directory %s unreadable for the glossary: %s", path, exc)
            return cls([], analyzer, vocabulary=vocabulary)

        def names(entry: dict[str, object]) -> list[str]:
            return [str(entry["name"]), *map(str, entry.get("aliases") or [])]  # type: ignore[call-overload]

        partners = [names(e) for e in data.get("partners") or [] if e.get("name")]
        home = [names(data["home"])] if (data.get("home") or {}).get("name") else []
        return cls(home + partners, analyzer, partners, vocabulary)

    @property
    def size(self) -> int:
        """Return how many vocabulary groups the glossary holds."""
        return len(self._groups)

    def cities(self, terms: Sequence[str]) -> set[str]:
        """Return the keys of the partner cities the terms name (the home city is not one)."""
        present = set(terms)
        return {key for name_terms, key in self._names if name_terms <= present}

    def code_switch(self, text: str, hangul: bool) -> str:
        """Return the text with the names it knows spelt in Hangul, or in Latin letters.

        For asking passages in the other script: e5 matches 비엔호아 with "Bien Hoa" only weakly,
        so a Korean question about Bien Hoa is asked of English and Vietnamese passages as
        "Bien Hoa ..." and an English question about Darkhan of Korean ones as "다르항 ...".
        """
        for pattern, in_hangul, in_latin in self._spellings:
            text = pattern.sub(in_hangul if hangul else in_latin, text)
        return text

    def expand(self, terms: Sequence[str]) -> list[str]:
        """Return the terms followed by the name spellings they do not already contain."""
        out = list(terms)
        present = set(out)
        for term in terms:
            for extra in sorted(self._expand.get(term, ())):
                if extra not in present:
                    out.append(extra)
                    present.add(extra)
        return out

    def translations(
        self,
        terms: Sequence[str],
        language: str | None = None,
        cross_only: bool = True,
        question: str = "",
    ) -> list[Translation]:
        """Return the vocabulary's phrases the terms hold (all of a phrase's terms), each with
        its renderings: those in other languages, or (`cross_only=False`) every other phrase.

        `language`: the question's; only its phrases are looked for (Vietnamese "ai" is "who",
        not AI), and English ones in a Korean question, which writes loanwords in Latin letters.
        `question`, the text the terms are of: a Vietnamese phrase is its syllables, which the
        question must then have side by side ("thị ... thực" in "tòa thị chính ... thực tập"
        is no "thị thực", visa).
        """
        present = set(terms)
        asked_in = (
            None if language is None else {language, "en"} if language == "ko" else {language}
        )
        words = f" {fold_letters(' '.join(_WORD.findall(question)))} "
        side_by_side = language == "vi" and bool(question)
        found: list[Translation] = []
        seen: set[int] = set()
        for term in dict.fromkeys(terms):
            for index in self._by_term.get(term, ()):
                if index in seen:
                    continue
                phrases, written = self._groups[index]
                matched = [
                    (lang, p)
                    for lang, p in phrases
                    if p <= present and (asked_in is None or lang in asked_in)
                ]
                if side_by_side and not any(
                    f" {fold_letters(w)} " in words for w in written.get("vi", ())
                ):
                    matched = [(lang, p) for lang, p in matched if lang != "vi"]
                if not matched:
                    continue
                seen.add(index)
                asked = frozenset(t for _, p in matched for t in p)
                languages = {lang for lang, _ in matched}
                renderings = tuple(
                    p
                    for lang, p in phrases
                    if not p <= present and (not cross_only or lang not in languages)
                )
                if renderings:
                    found.append(Translation(asked, renderings, written))
        return found


@lru_cache(maxsize=16384)
def _phrase_terms(phrase: str, language: str, analyzer: Analyzer) -> tuple[frozenset[str], ...]:
    """Return the terms a phrase is indexed as: Kiwi's for Korean, alone and before a particle
    (Kiwi cuts some words differently at a text's end: 웨비 alone, 웨비나 before 의 or 에서);
    the language's stemmer for the others. Cached: every build of the services reads the same
    few hundred groups with the same analyzer."""
    if language == "ko" or has_hangul(phrase):
        alone = frozenset(analyzer.terms(phrase))
        # a cut before a particle that leaves single syllables (소관에서: 소 + 관) is no word
        within = [frozenset(analyzer.terms(phrase + end)) for end in ("의", "에서")]
        return (alone, *(v for v in within if v != alone and all(len(t) > 1 for t in v)))
    terms = frozenset(analyzer.terms(phrase, language))
    if language == "vi" and len(phrase.split()) > 1 and len(terms) < 2:
        # a Vietnamese word is its syllables, and the analyzer drops common ones (thành phố, có,
        # được): "y tế" (health) would be left as "tế", "hai thành phố" (both cities) as "hai"
        return ()
    return (terms,)

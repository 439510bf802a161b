"""Names that mean the same thing across languages (뒤셀도르프 = Düsseldorf), for keyword search."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from bot.domain import fold
from bot.nlp import Analyzer, has_hangul

log = logging.getLogger(__name__)


class Glossary:
    """Expands query terms with their equivalents so a Korean name finds an English document."""

    def __init__(
        self,
        groups: Iterable[Sequence[str]],
        analyzer: Analyzer,
        partners: Iterable[Sequence[str]] = (),
    ) -> None:
        self._expand: dict[str, frozenset[str]] = {}
        self._names: list[tuple[frozenset[str], str]] = []  # a partner name's terms -> its key
        # (a spelling as a pattern, the name in Hangul, the name in Latin letters), longest first
        self._spellings: list[tuple[re.Pattern[str], str, str]] = []

        def variants(name: str) -> list[frozenset[str]]:
            # a name is stemmed as the text around it is: English, German or not at all
            return [frozenset(analyzer.terms(name, lang)) for lang in ("en", "de", "vi")]

        spellings: list[tuple[str, str, str]] = []
        for group in groups:
            hangul = [n for n in group if has_hangul(n)]
            other = [n for n in group if not has_hangul(n)]  # the first is the Latin name
            if hangul and other:
                spellings += [(name, hangul[0], other[0]) for name in group]
            terms = frozenset(t for name in group for v in variants(name) for t in v)
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

    @classmethod
    def from_directory(cls, path: Path, analyzer: Analyzer) -> Glossary:
        """Build from the partner directory's names and aliases (empty if the file is missing)."""
        if not path.exists():
            return cls([], analyzer)
        try:
            data = yaml.safe_load(path.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("partner directory %s unreadable for the glossary: %s", path, exc)
            return cls([], analyzer)

        def names(entry: dict[str, object]) -> list[str]:
            return [str(entry["name"]), *map(str, entry.get("aliases") or [])]  # type: ignore[call-overload]

        partners = [names(e) for e in data.get("partners") or [] if e.get("name")]
        home = [names(data["home"])] if (data.get("home") or {}).get("name") else []
        return cls(home + partners, analyzer, partners)

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
        """Return the terms followed by the equivalents they do not already contain."""
        out = list(terms)
        present = set(out)
        for term in terms:
            for extra in sorted(self._expand.get(term, ())):
                if extra not in present:
                    out.append(extra)
                    present.add(extra)
        return out

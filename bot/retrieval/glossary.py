"""Names that mean the same thing across languages (뒤셀도르프 = Düsseldorf), for keyword search."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from bot.nlp import Analyzer
from bot.retrieval.access import city_key

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

        def variants(name: str) -> list[frozenset[str]]:
            # a name is stemmed as the text around it is: English, German or not at all
            return [frozenset(analyzer.terms(name, lang)) for lang in ("en", "de", "vi")]

        for group in groups:
            terms = frozenset(t for name in group for v in variants(name) for t in v)
            for term in terms:
                self._expand[term] = self._expand.get(term, frozenset()) | terms
        for group in partners:
            for name in group:
                self._names += [(v, city_key(group[0])) for v in variants(name) if v]

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

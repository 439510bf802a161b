"""Names that mean the same thing across languages (뒤셀도르프 = Düsseldorf), for keyword search."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from bot.nlp import Analyzer

log = logging.getLogger(__name__)


class Glossary:
    """Expands query terms with their equivalents so a Korean name finds an English document."""

    def __init__(self, groups: Iterable[Sequence[str]], analyzer: Analyzer) -> None:
        self._expand: dict[str, frozenset[str]] = {}
        for group in groups:
            terms = frozenset(t for name in group for t in analyzer.terms(name))
            for term in terms:
                self._expand[term] = self._expand.get(term, frozenset()) | terms

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
        entries = [data.get("home") or {}, *(data.get("partners") or [])]
        groups = [
            [str(e["name"]), *map(str, e.get("aliases") or [])] for e in entries if e.get("name")
        ]
        return cls(groups, analyzer)

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

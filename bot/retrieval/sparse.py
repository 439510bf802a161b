"""The keyword index: BM25 (bm25s) over Kiwi morphemes and word terms, persisted beside Chroma."""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.domain import CityNames, SparseEntry
from bot.retrieval.access import NO_NAMES, AccessScope

_META = "meta.json"


class BM25Index:
    """BM25 scores over stored terms; rebuilt from stored terms (never re-tokenised) on change."""

    def __init__(self, path: Path, names: CityNames = NO_NAMES) -> None:
        self.path = path
        # the partner directory's resolver: a chunk's city key is `names.key` of its tag, worked
        # out in memory at load (never stored), so an edited directory needs no rebuild
        self.names = names
        self._lock = threading.RLock()  # readers and the swap of a rebuilt index
        self._build_lock = threading.Lock()
        self._model = None
        self.ids: list[str] = []
        self._visibility = np.array([], dtype=str)
        self._partner = np.array([], dtype=str)  # each chunk's tag as spelt (domain.city_key)
        self._partner_key = np.array([], dtype=str)  # and the key of the city it names
        self._spellings: dict[str, list[str]] = {}  # city key -> the stored spellings of it
        self._webinar = np.array([], dtype=str)
        self._df: dict[str, int] = {}
        self._row: dict[str, int] | None = None  # chunk id -> row, built on first use
        self._sorted = False  # each term's postings in ascending rows (then searched, not isin)
        # the documents' version (KnowledgeStore.version) the index was built from; None: unknown
        # (a file of an older release, or none): such an index is rebuilt at start
        self.version: int | None = None
        self._load()

    def _load(self) -> None:
        meta = self.path / _META
        if not meta.exists():
            return
        import bm25s

        data = json.loads(meta.read_text("utf-8"))
        self.ids = data["ids"]
        self._visibility = np.array(data["visibility"], dtype=str)
        self._partner = np.array(data["partner"], dtype=str)
        self._partner_key, self._spellings = self._keys(self._partner)
        self._webinar = np.array(data.get("webinar") or [""] * len(self.ids), dtype=str)
        self._df = data["df"]
        self.version = data.get("version")
        self._model = bm25s.BM25.load(str(self.path / "bm25")) if self.ids else None
        self._sorted = _postings_sorted(self._model)

    def count(self) -> int:
        """Return how many chunks the index holds."""
        with self._lock:
            return len(self.ids)

    def rebuild(self, entries: Sequence[SparseEntry], version: int | None = None) -> None:
        """Replace the index with these entries (of the documents' `version`), persist it atomically.

        The new index is built and written beside the old one while questions go on being
        answered from the old one (seconds at 100k chunks); only the swap holds the query lock.
        """
        import bm25s

        with self._build_lock:  # one rebuild at a time
            model = None
            if entries:
                model = bm25s.BM25()
                model.index([list(e.terms) for e in entries], show_progress=False)
            df: Counter[str] = Counter()
            for e in entries:
                df.update(set(e.terms))
            tmp = self.path.with_name(self.path.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            if model is not None:
                model.save(str(tmp / "bm25"))
            (tmp / _META).write_text(
                json.dumps(
                    {
                        "ids": [e.id for e in entries],
                        "visibility": [e.visibility for e in entries],
                        "partner": [e.partner for e in entries],
                        "webinar": [e.webinar for e in entries],
                        "df": dict(df),
                        "version": version,
                    },
                    ensure_ascii=False,
                ),
                "utf-8",
            )
            arrays = {
                name: np.array([getattr(e, name) for e in entries], dtype=str)
                for name in ("visibility", "partner", "webinar")
            }
            keys, spellings = self._keys(arrays["partner"])
            with self._lock:
                shutil.rmtree(self.path, ignore_errors=True)
                tmp.rename(self.path)
                self._model = model
                self._sorted = _postings_sorted(model)
                self.ids = [e.id for e in entries]
                self._visibility = arrays["visibility"]
                self._partner = arrays["partner"]
                self._partner_key, self._spellings = keys, spellings
                self._webinar = arrays["webinar"]
                self._df = dict(df)
                self._row = None
                self.version = version

    def search(
        self,
        terms: Sequence[str],
        scope: AccessScope,
        n: int,
        extra: Sequence[str] = (),
        extra_weight: float = 0.0,
    ) -> list[tuple[str, float]]:
        """Return up to n (id, BM25 score) pairs with a positive score, among chunks the scope admits.

        `extra` terms (renderings of the question's words in other languages) add their BM25
        score times `extra_weight`.
        """
        with self._lock:
            if self._model is None or not (terms or extra):
                return []
            scores = np.zeros(len(self.ids), dtype=np.float32)
            if terms:
                scores += np.asarray(self._model.get_scores(list(terms)), dtype=np.float32)
            if extra and extra_weight:
                found = np.asarray(self._model.get_scores(list(extra)), dtype=np.float32)
                scores += np.float32(extra_weight) * found
            allowed = scope.mask(self._visibility, self._partner_key, self._webinar)
            scores = np.where(allowed, scores, 0.0)
            positive = np.flatnonzero(scores > 0)
            if positive.size == 0:
                return []
            top = positive[np.argsort(-scores[positive], kind="stable")[:n]]
            return [(self.ids[i], float(scores[i])) for i in top]

    def coverage(self, weights: dict[str, float], ids: Sequence[str]) -> dict[str, float]:
        """Return, per chunk id, the share of the query's term weight the chunk contains.

        Read from the index's own term -> chunks postings (vectorised), so no chunk is loaded.
        """
        with self._lock:
            total = sum(weights.values())
            if self._model is None or not total or not ids:
                return dict.fromkeys(ids, 0.0)
            rows = self._rows(ids)
            found = np.zeros(len(ids), dtype=np.float64)
            vocab = self._model.vocab_dict
            postings, indptr = self._model.scores["indices"], self._model.scores["indptr"]
            for term, weight in weights.items():
                tid = vocab.get(term)
                if tid is None or not weight:
                    continue
                found += weight * self._holds(rows, postings[indptr[tid] : indptr[tid + 1]])
            return {cid: float(v) / total for cid, v in zip(ids, found, strict=True)}

    def holding(self, terms: Sequence[str], ids: Sequence[str]) -> dict[str, set[str]]:
        """Return, per chunk id, which of the terms it contains (from the postings, like coverage)."""
        with self._lock:
            out: dict[str, set[str]] = {cid: set() for cid in ids}
            if self._model is None or not ids:
                return out
            rows = self._rows(ids)
            vocab = self._model.vocab_dict
            postings, indptr = self._model.scores["indices"], self._model.scores["indptr"]
            for term in set(terms):
                tid = vocab.get(term)
                if tid is None:
                    continue
                hit = self._holds(rows, postings[indptr[tid] : indptr[tid + 1]])
                for i in np.flatnonzero(hit):
                    out[ids[i]].add(term)
            return out

    def _holds(self, rows: np.ndarray, posting: np.ndarray) -> np.ndarray:
        """Return whether each row is in a term's postings: a binary search of the few candidate
        rows in sorted postings (a common term's are tens of thousands of rows at 100k chunks,
        which `np.isin` would sort again for every question)."""
        if not self._sorted:
            return np.isin(rows, posting)
        at = np.searchsorted(posting, rows)
        found = np.zeros(len(rows), dtype=bool)
        inside = at < len(posting)
        found[inside] = posting[at[inside]] == rows[inside]
        return found

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        """Return the index rows of chunk ids (-1 for an id the index does not hold)."""
        if self._row is None:
            self._row = {cid: i for i, cid in enumerate(self.ids)}
        return np.fromiter((self._row.get(cid, -1) for cid in ids), dtype=np.int64, count=len(ids))

    def visible(self, ids: Sequence[str], scope: AccessScope) -> list[bool]:
        """Return whether the scope admits each chunk (an id the index does not hold: False)."""
        with self._lock:
            if not self.ids:  # empty (no documents yet): nothing to index into
                return [False] * len(ids)
            rows = self._rows(ids)
            known = rows >= 0
            safe = np.where(known, rows, 0)
            ok = known & scope.mask(
                self._visibility[safe], self._partner_key[safe], self._webinar[safe]
            )
            return [bool(x) for x in ok]

    def partners(self, ids: Sequence[str]) -> dict[str, str]:
        """Return the partner-city key of each chunk id ("" when untagged)."""
        with self._lock:
            rows = self._rows(ids)
            keys = self._partner_key
            return {cid: str(keys[r]) for cid, r in zip(ids, rows, strict=True) if r >= 0}

    def spellings(self, key: str) -> list[str]:
        """Return the tags, as stored, of the chunks of the city with this key."""
        return list(self._spellings.get(key, ()))  # a map that is replaced, never changed

    def _keys(self, spellings: np.ndarray) -> tuple[np.ndarray, dict[str, list[str]]]:
        """Return the city key of each stored tag, and the stored spellings of each key."""
        distinct = {str(s): self.names.key(str(s)) for s in set(spellings.tolist())}
        by_key: dict[str, list[str]] = {}
        for spelling, key in sorted(distinct.items()):
            if key:
                by_key.setdefault(key, []).append(spelling)
        keys = np.array([distinct[str(s)] for s in spellings.tolist()], dtype=str)
        return keys, by_key

    def webinars(self, ids: Sequence[str]) -> dict[str, str]:
        """Return the webinar tag of each chunk id."""
        with self._lock:
            rows = self._rows(ids)
            return {cid: str(self._webinar[r]) for cid, r in zip(ids, rows, strict=True) if r >= 0}

    def df(self, term: str) -> int:
        """Return in how many chunks a term occurs."""
        return self._df.get(term, 0)  # one read of a map that is replaced, never changed

    def idf(self, term: str) -> float:
        """Return the inverse document frequency of a term (high for rare terms, 0 for stop-like)."""
        with self._lock:  # the count and the frequency of one index, not one each side of a swap
            n = len(self.ids)
            df = self._df.get(term, 0)
        return max(0.0, math.log((n - df + 0.5) / (df + 0.5) + 1.0)) if n else 0.0


def _postings_sorted(model: Any) -> bool:
    """Tell whether every term's postings (the index's CSC columns) list their rows in ascending
    order, as bm25s writes them; checked once per load, not assumed."""
    if model is None:
        return False
    indices, indptr = model.scores["indices"], model.scores["indptr"]
    falls = np.diff(indices) < 0
    starts = indptr[1:-1]
    falls[starts[(starts > 0) & (starts < len(indices))] - 1] = False  # a new term's first row
    return not bool(falls.any())

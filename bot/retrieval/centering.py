"""Language-neutral embeddings: take out the part of a vector that only says which language it is.

multilingual-e5-small puts a strong language signal into every vector: a Korean question scores
higher against any Korean passage than against the English passage that answers it. Subtracting,
per language, the mean vector of a parallel reference set (the same sentences in each language,
on topics unrelated to the office's documents) removes that signal, so a question is compared
with passages on what they say (Libovický et al. 2020, "On the language neutrality of pre-trained
multilingual representations", found the same for other multilingual encoders).

Questions and passages get their own means (e5 embeds them with different prefixes). The means
depend on the model, so they are computed with the running embedder from the reference file:
a copy for the default embedder ships next to this module, anything else is computed once
(half a minute) and cached in the data directory. A text in a language the reference set does
not have is centred on the mean of all its languages.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.nlp import detect_language
from bot.retrieval.embedder import Embedder

log = logging.getLogger(__name__)

REFERENCE = Path(__file__).with_name("language_reference.tsv")
SHIPPED = Path(__file__).with_name("language_centroids.npz")
CACHE_NAME = "language_centroids.npz"
# a fixed text whose vector tells whether stored means were made by the running embedder
PROBE = "Hanbit city hall, 한빛시청, Rathaus, ủy ban nhân dân: 2025-05-14."
DEFAULT_STRENGTH = 1.0


def reference_rows(path: Path = REFERENCE) -> dict[str, list[str]]:
    """Return the reference sentences by language (one column per language, rows parallel)."""
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    columns: dict[str, list[str]] = {name: [] for name in reader.fieldnames or []}
    for row in reader:
        if any(not (row.get(name) or "").strip() for name in columns):
            raise ValueError(f"{path.name}: line {reader.line_num} does not have every language")
        for name in columns:
            columns[name].append(row[name].strip())
    return columns


@dataclass(frozen=True)
class LanguageMeans:
    """Mean query and passage vectors per language of the reference set."""

    queries: dict[str, np.ndarray]
    passages: dict[str, np.ndarray]
    probe: np.ndarray  # the running embedder's passage vector of PROBE when these were computed
    reference: str  # sha256 of the reference file they were computed from

    @classmethod
    def compute(cls, embedder: Embedder, reference: Path = REFERENCE) -> LanguageMeans:
        """Embed the reference set as questions and as passages; average per language."""
        rows = reference_rows(reference)
        queries = {
            lang: np.mean([embedder.embed_query(s) for s in texts], axis=0)
            for lang, texts in rows.items()
        }
        passages = {
            lang: embedder.embed_passages(texts).mean(axis=0) for lang, texts in rows.items()
        }
        return cls(queries, passages, model_probe(embedder), _digest(reference))

    def save(self, path: Path) -> None:
        """Write the means to an .npz file."""
        arrays: dict[str, np.ndarray] = {"probe": self.probe, "reference": np.array(self.reference)}
        arrays |= {f"q_{lang}": v for lang, v in self.queries.items()}
        arrays |= {f"p_{lang}": v for lang, v in self.passages.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # np.savez would append .npz to a name without it
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> LanguageMeans:
        """Read means written by save()."""
        with np.load(path) as data:
            queries = {k[2:]: data[k] for k in data.files if k.startswith("q_")}
            passages = {k[2:]: data[k] for k in data.files if k.startswith("p_")}
            return cls(queries, passages, data["probe"], str(data["reference"]))

    def fits(self, probe: np.ndarray, reference: Path = REFERENCE) -> bool:
        """Tell whether these means were made by the embedder that gave `probe`, from `reference`."""
        return fits_probe(self.probe, probe) and self.reference == _digest(reference)


def model_probe(embedder: Embedder) -> np.ndarray:
    """Return the embedder's passage vector of PROBE: what tells one model from another."""
    return embedder.embed_passages([PROBE])[0]


def fits_probe(stored: np.ndarray, probe: np.ndarray) -> bool:
    """Tell whether vectors stored with `stored` were made by the model that gives `probe`."""
    return stored.shape == probe.shape and float(np.dot(stored, probe)) > 0.999


def load_means(
    embedder: Embedder, cache_dir: Path | None, probe: np.ndarray | None = None
) -> LanguageMeans:
    """Return the reference means for this embedder: shipped, cached, or computed and cached.

    `probe`: the embedder's model_probe, when the caller has it already."""
    probe = model_probe(embedder) if probe is None else probe
    cached = cache_dir / CACHE_NAME if cache_dir is not None else None
    for path in (SHIPPED, cached):
        if path is None or not path.exists():
            continue
        try:
            means = LanguageMeans.load(path)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable language means %s: %s", path, exc)
            continue
        if means.fits(probe):
            return means
    log.info("computing language means for this embedder (once; cached in the data directory)")
    means = LanguageMeans.compute(embedder)
    if cached is not None:
        means.save(cached)
    return means


class LanguageNeutralEmbedder:
    """Wraps an embedder; centres each vector on its language's reference mean, then renormalises.

    `strength` scales the mean taken out: 0 leaves vectors as they are, 1 removes the whole mean
    (which also removes what all the reference sentences share, not only their language).
    """

    def __init__(
        self,
        inner: Embedder,
        means: LanguageMeans,
        strength: float = DEFAULT_STRENGTH,
        detect: Callable[[str], str] = detect_language,
    ) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.strength = strength
        self._detect = detect
        self._queries = _with_default(means.queries)
        self._passages = _with_default(means.passages)
        # what the stored vectors depend on: model, reference set and strength
        self.space = hashlib.sha256(
            np.round(means.probe, 3).tobytes() + means.reference.encode() + f"{strength}".encode()
        ).hexdigest()[:12]

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a question and centre it on its language's question mean."""
        vector = self.inner.embed_query(text)
        return _centre(vector[None, :], self._queries[self._language(text)], self.strength)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions in one batch and centre each on its own language's question mean."""
        return self.centre_queries(texts, self.inner.embed_queries(texts))

    def centre_queries(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Centre the inner model's question vectors of these texts, as embed_queries does."""
        if not len(texts):
            return vectors
        means = np.stack([self._queries[self._language(t)] for t in texts])
        return _centre(vectors, means, self.strength)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages and centre each on its own language's passage mean."""
        vectors = self.inner.embed_passages(texts)
        if not len(texts):
            return vectors
        means = np.stack([self._passages[self._language(t)] for t in texts])
        return _centre(vectors, means, self.strength)

    def count_tokens(self, text: str) -> int:
        """Count the inner model's tokens."""
        return self.inner.count_tokens(text)

    def _language(self, text: str) -> str:
        language = self._detect(text)
        return language if language in self._passages else ""


def _with_default(means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add the mean over all languages under "" for texts in a language the set does not have."""
    return {**means, "": np.mean(list(means.values()), axis=0)}


def _centre(vectors: np.ndarray, means: np.ndarray, strength: float) -> np.ndarray:
    centred = (vectors - strength * means).astype(np.float32)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.maximum(norms, 1e-12)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

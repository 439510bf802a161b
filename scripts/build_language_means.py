"""Recompute bot/retrieval/language_centroids.npz after editing the reference set or the model.

    .venv/bin/python scripts/build_language_means.py

The file holds the default embedder's mean question and passage vectors of each language of
bot/retrieval/language_reference.tsv (see bot/retrieval/centering.py). A test checks that the
shipped file still fits the reference file and the model.
"""

from __future__ import annotations

import time

from bot.retrieval.centering import SHIPPED, LanguageMeans
from bot.retrieval.embedder import E5Embedder


def main() -> None:
    started = time.perf_counter()
    LanguageMeans.compute(E5Embedder()).save(SHIPPED)
    print(f"wrote {SHIPPED} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

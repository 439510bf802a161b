"""Recompute bot/retrieval/renderings.npz after editing the shipped glossary or the model.

    .venv/bin/python scripts/build_renderings.py

The file holds the offline model's question vectors (raw, not centred) of the phrases a question
can be moved toward: the first of each group of bot/retrieval/terms.tsv in each language (see
bot/retrieval/renderings.py). A test checks that the shipped file still covers the glossary and
fits the model.
"""

from __future__ import annotations

import time

from bot.retrieval.centering import model_probe
from bot.retrieval.embedder import E5Embedder
from bot.retrieval.glossary import TERMS, read_terms
from bot.retrieval.renderings import SHIPPED_RENDERINGS, rendering_phrases, save_renderings


def main() -> None:
    started = time.perf_counter()
    model = E5Embedder()
    phrases = rendering_phrases(read_terms(TERMS))
    # each row as the phrase embedded alone gives it (the engine attends within each text)
    save_renderings(SHIPPED_RENDERINGS, phrases, model.embed_queries(phrases), model_probe(model))
    print(
        f"wrote {SHIPPED_RENDERINGS} ({len(phrases)} phrases) in "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

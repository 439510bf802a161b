"""Benchmarks: ingest throughput, query latency at 1k/10k/100k chunks, retrieval quality per fusion mode.

Run with `make bench` (or `python benchmarks/run.py --sizes 1000 10000`). Prints Markdown to paste
into docs/benchmarks.md. Embedding 100k chunks takes hours on 2 cores, so the large stores reuse
the real e5 vectors and terms of the sample corpus: each synthetic chunk copies a real chunk's
terms and vector plus small Gaussian noise (renormalised), so the index sizes, filters and score
distributions are realistic while the questions are real questions embedded for real.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.domain import Asker, Role  # noqa: E402
from bot.evaluation import load_questions, percentile, run_eval  # noqa: E402
from bot.knowledge.chunking import embedding_units  # noqa: E402
from bot.knowledge.store import chroma_metadata  # noqa: E402
from bot.nlp import Analyzer  # noqa: E402
from bot.retrieval.embedder import E5Embedder  # noqa: E402
from bot.services import Services, build_services  # noqa: E402

logging.disable(logging.WARNING)


def settings_for(data: Path, **overrides: object) -> Settings:
    """Return settings on a scratch data dir, isolated from .env."""
    return Settings(
        _env_file=None,
        bot_data_dir=data,
        partners_file=ROOT / "knowledge" / "partners.yaml",
        **overrides,  # type: ignore[arg-type]
    )  # type: ignore[call-arg]


def bench_ingest(
    embedder: E5Embedder, analyzer: Analyzer, work: Path
) -> tuple[dict[str, float], Services]:
    """Ingest the sample knowledge base from scratch; compare with embedding the same chunks alone."""
    services = build_services(settings_for(work / "sample"), embedder=embedder, analyzer=analyzer)
    started = time.perf_counter()
    report = services.ingestor.ingest([ROOT / "knowledge"])
    total = time.perf_counter() - started
    chunks = services.store.chunks(services.store.chunk_ids())
    # what ingest embeds: each chunk's units, a unit repeated by chunk overlap once
    texts = list(dict.fromkeys(u for c in chunks.values() for u in embedding_units(c)))
    tokens = sum(embedder.count_tokens(t) for t in texts)
    t0 = time.perf_counter()
    for i in range(0, len(texts), 32):
        embedder.embed_passages(texts[i : i + 32])
    pure = time.perf_counter() - t0
    return {
        "files": report.files,
        "chunks": report.chunks,
        "tokens": tokens,
        "seconds": total,
        "chunks_per_s": report.chunks / total,
        "tokens_per_s": tokens / total,
        "embed_seconds": pure,
        "embed_tokens_per_s": tokens / pure,
        "ratio": total / pure,
        # the embedder's time inside the same run: free of run-to-run noise on a shared host
        "embed_in_run": report.embed_seconds,
        "ratio_in_run": total / report.embed_seconds,
    }, services


def build_synthetic(
    source: Services, size: int, work: Path, embedder: E5Embedder, analyzer: Analyzer
) -> Services:
    """Fill a fresh store with `size` chunks made from the sample corpus's real vectors and terms."""
    services = build_services(
        settings_for(work / f"syn{size}"), embedder=embedder, analyzer=analyzer
    )
    ids = source.store.chunk_ids()
    vectors = source.retriever.vectors.vectors(ids)
    chunks = source.store.chunks(ids)
    rng = np.random.default_rng(7)
    per_doc = 50
    for d in range(0, size, per_doc):
        picks = [ids[p] for p in rng.integers(0, len(ids), min(per_doc, size - d))]
        doc = dataclasses.replace(
            chunks[picks[0]].doc,
            source=f"synthetic/{d // per_doc:05d}-{chunks[picks[0]].doc.source}",
        )
        copies = [
            dataclasses.replace(chunks[p], id=f"s{d + j:07d}", doc=doc, ordinal=j)
            for j, p in enumerate(picks)
        ]
        services.store.replace(doc, "", str(d), copies)
        # vectors: the picked real chunk's unit vectors plus noise, renormalised (cosine to the
        # original ≈ 0.9)
        units = []
        for p in picks:
            rows = vectors[p] + rng.normal(0, 0.012, vectors[p].shape).astype(np.float32)
            units.append(rows / np.linalg.norm(rows, axis=1, keepdims=True))
        services.retriever.vectors.upsert(
            [c.id for c in copies], units, [chroma_metadata(c) for c in copies]
        )
    services.retriever.keywords.rebuild(services.store.sparse_entries())
    return services


def bench_queries(services: Services, questions: list[str], repeat: int = 1) -> dict[str, float]:
    """Time retrieval (question embedding included) and the full extractive answer, per question."""
    retrieve, answer = [], []
    askers = [Asker(Role.STAFF), Asker(Role.PUBLIC), Asker(Role.PARTNER, partner="Düsseldorf")]
    for _ in range(repeat):
        for i, q in enumerate(questions):
            asker = askers[i % len(askers)]
            t0 = time.perf_counter()
            services.retriever.retrieve(q, asker, 5)
            retrieve.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            services.extractive.answer(q, asker)
            answer.append((time.perf_counter() - t0) * 1000)
    return {
        "n": len(retrieve),
        "retrieve_p50": percentile(retrieve, 0.5),
        "retrieve_p95": percentile(retrieve, 0.95),
        "answer_p50": percentile(answer, 0.5),
        "answer_p95": percentile(answer, 0.95),
    }


def main() -> int:
    """Run the benchmarks and print Markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--keep", type=Path, help="keep the scratch stores here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    embedder, analyzer = E5Embedder(), Analyzer()
    analyzer.warm_up()
    print(
        f"# Benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{platform.python_version()}, {__import__('os').cpu_count()} cores\n"
    )

    ingest, sample = bench_ingest(embedder, analyzer, work)
    print("## Ingest (sample knowledge base, from scratch)\n")
    print(
        "| files | chunks | e5 tokens | seconds | chunks/s | tokens/s | embedding only (s) "
        "| ingest ÷ embedding | embedding inside the run (s) | ingest ÷ that |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {ingest['files']} | {ingest['chunks']} | {ingest['tokens']} | {ingest['seconds']:.1f} | "
        f"{ingest['chunks_per_s']:.1f} | {ingest['tokens_per_s']:.0f} | {ingest['embed_seconds']:.1f} | "
        f"{ingest['ratio']:.2f} | {ingest['embed_in_run']:.1f} | {ingest['ratio_in_run']:.2f} |\n"
    )

    questions = load_questions(ROOT / "knowledge" / "eval.jsonl")
    holdout = load_questions(ROOT / "knowledge" / "eval-holdout.jsonl")
    # the same corpus without language centring, to show what it does
    plain = build_services(
        settings_for(work / "plain", embedding_centering=0.0), embedder=embedder, analyzer=analyzer
    )
    plain.ingestor.ingest([ROOT / "knowledge"])
    for name, qs in (
        ("knowledge/eval.jsonl", questions),
        ("knowledge/eval-holdout.jsonl", holdout),
    ):
        print(f"## Retrieval quality on {name} (k=5)\n")
        print(
            "| vectors | fusion | hit@1 | recall@5 | MRR | answer hit | decline accuracy "
            "| false declines |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for label, services in (("raw e5", plain), ("language-centred (default)", sample)):
            for mode in ("dense", "sparse", "rrf", "hybrid"):
                if mode == "sparse" and services is plain:
                    continue  # no vectors involved: the same figures as below
                services.retriever.mode = mode
                row = run_eval(services, qs, k=5)["groups"]["all"]
                print(
                    f"| {label} | {mode} | {row['hit@1']:.3f} | {row['recall@k']:.3f} | "
                    f"{row['mrr']:.3f} | {row['answer_hit']:.3f} | {row['decline_acc']:.3f} | "
                    f"{row['false_decline']:.3f} |"
                )
            services.retriever.mode = "hybrid"
        report = run_eval(sample, qs, k=5)
        print("\nPer language (language-centred, hybrid):\n")
        print("| language | n | hit@1 | recall@5 | MRR | answer hit | decline accuracy |")
        print("|---|---|---|---|---|---|---|")
        for lang, row in report["groups"].items():
            if lang == "all":
                continue
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            print(
                f"| {lang} | {row['n']} | {fmt(row['hit@1'])} | {fmt(row['recall@k'])} | "
                f"{fmt(row['mrr'])} | {fmt(row['answer_hit'])} | {fmt(row['decline_acc'])} |"
            )
        print()
    plain.close()

    print("\n## Query latency (hybrid, extractive; question embedding included, no LLM)\n")
    print(
        "| chunks | queries | retrieve p50 ms | retrieve p95 ms | answer p50 ms | answer p95 ms | build s |"
    )
    print("|---|---|---|---|---|---|---|")
    texts = [q.question for q in questions]
    bench_queries(sample, texts[:10])  # warm caches
    row = bench_queries(sample, texts)
    print(
        f"| {sample.store.count_chunks()} (sample) | {row['n']} | {row['retrieve_p50']:.1f} | {row['retrieve_p95']:.1f} | "
        f"{row['answer_p50']:.1f} | {row['answer_p95']:.1f} | - |"
    )
    for size in args.sizes:
        t0 = time.perf_counter()
        synthetic = build_synthetic(sample, size, work, embedder, analyzer)
        built = time.perf_counter() - t0
        bench_queries(synthetic, texts[:10])
        row = bench_queries(synthetic, texts)
        print(
            f"| {size} | {row['n']} | {row['retrieve_p50']:.1f} | {row['retrieve_p95']:.1f} | "
            f"{row['answer_p50']:.1f} | {row['answer_p95']:.1f} | {built:.0f} |",
            flush=True,
        )
        synthetic.close()
    sample.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"ingest": ingest}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

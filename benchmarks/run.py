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
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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
from bot.retrieval.batching import QueryBatcher  # noqa: E402
from bot.retrieval.embedder import E5Embedder, Embedder, engine_on_one_core  # noqa: E402
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
    if services.store.count_chunks() == size:  # kept from an earlier run (--keep)
        return services
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


ASKERS = [Asker(Role.STAFF), Asker(Role.PUBLIC), Asker(Role.PARTNER, partner="Düsseldorf")]


def _plain(services: Services) -> Embedder:
    """Return the embedder a question calls without a batcher (the default, QUERY_LANES=0)."""
    embedder = services.retriever.embedder
    return embedder.inner if isinstance(embedder, QueryBatcher) else embedder


def query_embedders(services: Services) -> dict[str, Embedder]:
    """Return the ways a question can be embedded, by name: directly (QUERY_LANES=0, the engine
    on a team of threads), and through a query batcher of two lanes, one core each."""
    plain = _plain(services)
    return {
        "direct (QUERY_LANES=0)": plain,
        "2 lanes": QueryBatcher(plain, 0.002, 16, 2, engine_on_one_core),
    }


def bench_queries(
    services: Services, questions: list[str], embedders: dict[str, Embedder]
) -> dict[str, dict[str, float]]:
    """Time retrieval (question embedding included) and the full extractive answer, per question,
    one question at a time, for each way of embedding (they take turns question by question, so
    a busy moment of the shared host falls on all alike)."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in embedders}
    retriever = services.retriever
    kept = retriever.embedder
    try:
        for i, q in enumerate(questions):
            asker = ASKERS[i % len(ASKERS)]
            for name, embedder in embedders.items():
                retrieve, answer = times[name]
                retriever.embedder = embedder
                t0 = time.perf_counter()
                retriever.retrieve(q, asker, 5)
                retrieve.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                services.extractive.answer(q, asker)
                answer.append((time.perf_counter() - t0) * 1000)
    finally:
        retriever.embedder = kept
    return {
        name: {
            "n": len(retrieve),
            "retrieve_p50": percentile(retrieve, 0.5),
            "retrieve_p95": percentile(retrieve, 0.95),
            "answer_p50": percentile(answer, 0.5),
            "answer_p95": percentile(answer, 0.95),
        }
        for name, (retrieve, answer) in times.items()
    }


def bench_concurrent(
    services: Services, questions: list[str], rounds: int = 3, workers: int = 32
) -> list[dict[str, object]]:
    """Answer every question at once from `workers` threads (as the bot's use cases run), for
    each way of embedding: answers/s, answer latency from submission, texts per engine call.

    Rounds alternate the variants, so the shared host's load falls on all alike; figures are
    over all rounds.
    """
    inner = _plain(services)
    variants: dict[str, Embedder] = {
        "each question embeds itself (QUERY_LANES=0)": inner,
        "2 lanes, no batching (QUERY_LANES=2 QUERY_BATCH_MAX=1)": QueryBatcher(
            inner, 0.0, 1, 2, engine_on_one_core
        ),
        "2 lanes + micro-batching (QUERY_LANES=2, wait 2 ms, at most 4)": QueryBatcher(
            inner, 0.002, 4, 2, engine_on_one_core
        ),
        "2 lanes + micro-batching (QUERY_LANES=2, wait 2 ms, at most 16: the default)": QueryBatcher(
            inner, 0.002, 16, 2, engine_on_one_core
        ),
    }
    stats: dict[str, dict[str, list[float]]] = {
        name: {"latency": [], "seconds": [], "answers": [], "batches": [], "texts": []}
        for name in variants
    }
    retriever = services.retriever
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda q: services.answerer.answer(q, ASKERS[0]), questions[:workers]))
        for _ in range(rounds):
            for name, embedder in variants.items():
                retriever.embedder = embedder
                before = (getattr(embedder, "batches", 0), getattr(embedder, "texts", 0))

                def one(item: tuple[int, str], start: float) -> float:
                    services.answerer.answer(item[1], ASKERS[item[0] % len(ASKERS)])
                    return (time.perf_counter() - start) * 1000

                started = time.perf_counter()
                futures = [pool.submit(one, item, started) for item in enumerate(questions)]
                latencies = [f.result() for f in futures]
                row = stats[name]
                row["seconds"].append(time.perf_counter() - started)
                row["answers"].append(len(questions))
                row["latency"].extend(latencies)
                row["batches"].append(getattr(embedder, "batches", 0) - before[0])
                row["texts"].append(getattr(embedder, "texts", 0) - before[1])
    retriever.embedder = inner
    for embedder in variants.values():
        if isinstance(embedder, QueryBatcher):
            embedder.close()
    rows = []
    for name, row in stats.items():
        batches = sum(row["batches"])
        rows.append(
            {
                "variant": name,
                "answers": sum(row["answers"]),
                "seconds": sum(row["seconds"]),
                "answers_per_s": sum(row["answers"]) / sum(row["seconds"]),
                "p50": percentile(row["latency"], 0.5),
                "p95": percentile(row["latency"], 0.95),
                "texts_per_batch": sum(row["texts"]) / batches if batches else None,
            }
        )
    return rows


def main() -> int:
    """Run the benchmarks and print Markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument(
        "--keep", type=Path, help="keep the scratch stores here (a kept synthetic store is reused)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the concurrent answers")
    parser.add_argument("--skip-quality", action="store_true", help="leave out ingest and quality")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    # one model per query lane, as build_services makes it for the bot
    embedder, analyzer = E5Embedder(instances=2), Analyzer()
    analyzer.warm_up()
    print(
        f"# Benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
    )

    questions = load_questions(ROOT / "knowledge" / "eval.jsonl")
    ingest: dict[str, float] = {}
    if args.skip_quality:  # the sample store only (kept from an earlier run, or ingested now)
        sample = build_services(settings_for(work / "sample"), embedder=embedder, analyzer=analyzer)
        if not sample.store.count_chunks():
            sample.ingestor.ingest([ROOT / "knowledge"])
    else:
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

        holdout = load_questions(ROOT / "knowledge" / "eval-holdout.jsonl")
        # the same corpus without language centring, to show what it does
        plain = build_services(
            settings_for(work / "plain", embedding_centering=0.0),
            embedder=embedder,
            analyzer=analyzer,
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

    texts = [q.question for q in questions]
    print("\n## Answers from concurrent threads (in process, no Telegram)\n")
    print(
        f"All {len(texts)} questions of eval.jsonl submitted at once to 32 worker threads, "
        f"{args.rounds} rounds per variant, the variants taking turns round by round.\n"
    )
    print(
        "| variant | answers | seconds | answers/s | answer p50 ms | answer p95 ms | texts per engine call |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in bench_concurrent(sample, texts, rounds=args.rounds):
        per = row["texts_per_batch"]
        print(
            f"| {row['variant']} | {row['answers']} | {row['seconds']:.1f} | "
            f"{row['answers_per_s']:.1f} | {row['p50']:.0f} | {row['p95']:.0f} | "
            f"{'-' if per is None else f'{per:.1f}'} |",
            flush=True,
        )

    print("\n## Query latency (hybrid, extractive; question embedding included, no LLM)\n")
    print(
        "| chunks | embedding | queries | retrieve p50 ms | retrieve p95 ms | answer p50 ms "
        "| answer p95 ms | build s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    embedders = query_embedders(sample)

    def report(label: str, rows: dict[str, dict[str, float]], built: str) -> None:
        for name, row in rows.items():
            print(
                f"| {label} | {name} | {row['n']:.0f} | {row['retrieve_p50']:.1f} | "
                f"{row['retrieve_p95']:.1f} | {row['answer_p50']:.1f} | {row['answer_p95']:.1f} "
                f"| {built} |",
                flush=True,
            )

    bench_queries(sample, texts[:10], embedders)  # warm caches
    report(f"{sample.store.count_chunks()} (sample)", bench_queries(sample, texts, embedders), "-")
    for size in args.sizes:
        t0 = time.perf_counter()
        synthetic = build_synthetic(sample, size, work, embedder, analyzer)
        built = time.perf_counter() - t0
        embedders = query_embedders(synthetic)
        bench_queries(synthetic, texts[:10], embedders)
        report(str(size), bench_queries(synthetic, texts, embedders), f"{built:.0f}")
        synthetic.close()
    sample.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"ingest": ingest}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

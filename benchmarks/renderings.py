"""The glossary renderings' cost to a fresh process: cold (none kept in the vector store, as
before they were kept) against warm (kept by an earlier process), in turns.

Each round builds the services over the same data dir in a new process, answers the questions of
knowledge/eval.jsonl in turn (offline answers, as a public user, one thread), and reports the
process's CPU for them, and how many texts it embedded beyond the questions' own. "cold" drops
the renderings' collection first. Usage: `python benchmarks/renderings.py --data-dir DIR
[--rounds 3] [--questions 200]` (DIR: an ingested data dir, e.g. `exchange-bot ingest knowledge`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(data: Path, cold: bool, count: int) -> dict[str, float]:
    """Answer `count` questions in this process (after dropping the renderings if `cold`)."""
    from bot.config import Settings
    from bot.domain import Asker
    from bot.services import build_services

    settings = Settings(bot_data_dir=data, partners_file=ROOT / "knowledge" / "partners.yaml")
    services = build_services(settings)
    retriever = services.retriever
    if cold:
        vectors = retriever.vectors
        vectors._client.delete_collection(vectors._renderings_name)
        vectors._renderings = None
        retriever._renderings.clear()
    known = len(retriever._renderings)
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "knowledge" / "eval.jsonl").read_text().splitlines()
    ]
    embedded = [0]
    real = retriever.embedder.embed_queries

    def counting(texts):  # type: ignore[no-untyped-def]
        embedded[0] += len(texts)
        return real(texts)

    retriever.embedder.embed_queries = counting  # type: ignore[method-assign]
    services.answerer.answer("warm up", Asker())
    embedded[0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for k in range(count):
        services.answerer.answer(questions[k % len(questions)], Asker())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    services.close()
    return {"known": known, "embedded": embedded[0], "cpu": cpu, "wall": wall, "n": count}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--one", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.data_dir, args.one == "cold", args.questions)))
        return 0
    print(
        "| round | renderings | kept at start | texts embedded | CPU s | CPU ms/answer "
        "| answers/s | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        for kind in ("cold", "warm"):
            load = os.getloadavg()[0]
            out = subprocess.run(
                [sys.executable, __file__, "--data-dir", str(args.data_dir), "--one", kind]
                + ["--questions", str(args.questions)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            ).stdout
            row = json.loads(out.strip().splitlines()[-1])
            print(
                f"| {round_} | {kind} | {row['known']} | {row['embedded']} | {row['cpu']:.1f} | "
                f"{1000 * row['cpu'] / row['n']:.0f} | {row['n'] / row['wall']:.1f} | {load:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

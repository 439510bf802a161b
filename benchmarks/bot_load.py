"""Drive the real bot (`exchange-bot run`) through the Bot API emulator with many simulated users.

Reports answers per second and reply latency (question sent → answer received) with the offline
extractive answerer, for several variants of the bot side by side in one run (each its own
`exchange-bot run` on its own copy of one ingested data dir, one after another): the defaults
(two query lanes with micro-batching), each question embedding itself (QUERY_LANES=0), two lanes
without batching, and every commit synced;
`--baseline DIR` adds the code of another checkout (e.g. `git archive main`) run the same way.
Usage: `python benchmarks/bot_load.py [--users 40] [--questions 5] [--rates 0 15]
[--data-dir DIR]` (the sample knowledge base is ingested first into a temp dir, or into DIR if it has
no store yet).

`--processes 1 2` runs instead one and then two `exchange-bot run` processes in webhook mode on
one PostgreSQL and one `chroma run` server (tests/e2e/replicas.py's Cluster: the benchmark is the
load balancer, pushing each update to the next process in turn, a burst over 40 connections at a
time as Telegram does), the same load on each, so that what differs is only the number of
processes. It needs Debian's postgresql (as the tests do).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.emulator import BotApiEmulator  # noqa: E402
from tests.e2e.test_bot import TOKEN, start_bot, stop_bot  # noqa: E402

# how many updates the load balancer pushes at a time in a burst: Telegram's default
# max_connections for a webhook
CONNECTIONS = 40

# name: the settings that differ from the defaults
VARIANTS: dict[str, dict[str, str]] = {
    "default: 2 query lanes + micro-batching (QUERY_LANES=2, at most 16)": {},
    "each question embeds itself (QUERY_LANES=0)": {"QUERY_LANES": "0"},
    "2 query lanes, no batching (QUERY_LANES=2 QUERY_BATCH_MAX=1)": {"QUERY_BATCH_MAX": "1"},
    "each commit synced to disk (SQLITE_SYNCHRONOUS=FULL, as before)": {
        "SQLITE_SYNCHRONOUS": "FULL"
    },
}


def run_load(
    emu: BotApiEmulator,
    users: list[int],
    questions: list[str],
    rounds: int,
    rate: float,
    deliver: Callable[[], object] | None = None,
) -> dict[str, float]:
    """Send every user `rounds` questions (all at once, or `rate` per second); wait for answers.

    `deliver`: push what the emulator queued to the processes (webhook mode): after each send
    at a steady rate, and once all are sent for a burst (over as many connections at a time as
    Telegram opens to a webhook, see run_processes).
    """
    since = emu.mark()  # what earlier loads sent is not counted
    sent_at: dict[tuple[int, int], float] = {}
    started = time.perf_counter()
    k = 0
    for round_ in range(rounds):
        for uid in users:
            emu.send_text(uid, questions[k % len(questions)])
            k += 1
            sent_at[(uid, round_ + 1)] = time.time()
            if rate:
                if deliver is not None:
                    deliver()
                # on the clock, not after it: a push's own time must not slow the rate offered
                time.sleep(max(0.0, started + k / rate - time.perf_counter()))
    if deliver is not None and not rate:
        deliver()
    total = len(sent_at)
    deadline = time.monotonic() + 600
    answered: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        answered = [
            r for r in emu.sent[since:] if r["method"] == "sendMessage" and r.get("reply_markup")
        ]
        if len(answered) >= total:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    # the n-th answer in a user's chat answers that user's n-th question (one sender's updates
    # are handled in order)
    latencies = []
    per_user: dict[int, list[float]] = {}
    for record in answered:
        per_user.setdefault(int(record["chat_id"]), []).append(float(record["time"]))  # type: ignore[arg-type]
    for uid, times in per_user.items():
        for n, t in enumerate(sorted(times), start=1):
            latencies.append((t - sent_at[(uid, n)]) * 1000)
    latencies.sort()
    return {
        "questions": total,
        "answered": len(answered),
        "seconds": elapsed,
        "p50": latencies[len(latencies) // 2],
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    """Run the load for each variant and print one Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--questions", type=int, default=5, help="questions per user")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="*",
        default=[0.0, 15.0],
        help="questions per second (0: all at once)",
    )
    parser.add_argument("--only", nargs="*", help="variants to run (by position, from 1)")
    parser.add_argument("--baseline", type=Path, help="another checkout's code, run the same way")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the variants")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        help="instead: this many webhook processes on PostgreSQL + chroma run, e.g. 1 2",
    )
    args = parser.parse_args()
    if args.processes:
        return run_processes(args)
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="bot-load-")) / "data"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_"))
    }
    if not (data / "chroma").exists():  # a data dir of no store: answers from no documents
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "--data-dir",
                str(data),
                "ingest",
                str(ROOT / "knowledge"),
            ],
            check=True,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
        )
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "knowledge" / "eval.jsonl").read_text().splitlines()
    ]
    variants = [(name, {**extra, "PYTHONPATH": str(ROOT)}) for name, extra in VARIANTS.items()]
    if args.only:
        variants = [variants[int(i) - 1] for i in args.only]
    if args.baseline:
        code = args.baseline.resolve()
        variants.insert(0, (f"baseline: {code.name}", {"PYTHONPATH": str(code)}))
    print(
        "| variant | users | questions | offered | answered | seconds | answers/s "
        "| reply p50 ms | reply p95 ms | bot CPU s | answers per bot CPU-s "
        "| emulator + load CPU s | load at start |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with BotApiEmulator(token=TOKEN, bot_username="load_bot", max_poll_timeout=1.0) as emu:
        users = [1000 + i for i in range(args.users)]
        for uid in users:
            emu.user(uid, f"U{uid}", "en")
        for _ in range(args.repeat):
            for name, extra in variants:
                # each run on its own copy of the ingested store: a run's escalations, rate
                # events and answer log would otherwise be the next one's (a process reposts
                # the pending escalations older than an hour when it starts)
                run_data = Path(tempfile.mkdtemp(prefix="bot-load-run-")) / "data"
                shutil.copytree(data, run_data)
                proc = start_bot(
                    emu, run_data, RATE_LIMIT_QUESTIONS="1000", LOG_LEVEL="WARNING", **extra
                )
                try:
                    for rate in args.rates:
                        # the bot's CPU, and this process's (the emulator's threads and the
                        # load generator: Telegram's side, not on the bot's cores in production)
                        load = os.getloadavg()[0]
                        bot_cpu, own = cpu_seconds(proc.pid), cpu_seconds(os.getpid())
                        row = run_load(emu, users, questions, args.questions, rate)
                        bot_cpu = cpu_seconds(proc.pid) - bot_cpu
                        own = cpu_seconds(os.getpid()) - own
                        offered = f"{rate:g}/s" if rate else "burst"
                        print(
                            f"| {name} | {args.users} | {row['questions']:.0f} | {offered} | "
                            f"{row['answered']:.0f} | {row['seconds']:.1f} | "
                            f"{row['answered'] / row['seconds']:.1f} | {row['p50']:.0f} | "
                            f"{row['p95']:.0f} | {bot_cpu:.1f} | "
                            f"{row['answered'] / max(bot_cpu, 1e-9):.1f} | {own:.1f} | "
                            f"{load:.1f} |",
                            flush=True,
                        )
                finally:
                    stop_bot(proc)
                    shutil.rmtree(run_data.parent, ignore_errors=True)
    return 0


def run_processes(args: argparse.Namespace) -> int:
    """The same load on 1, 2, ... webhook processes sharing one PostgreSQL and one Chroma server."""
    from tests.e2e.replicas import ChromaServer, Cluster
    from tests.postgres import PostgresCluster

    root = Path(tempfile.mkdtemp(prefix="bot-load-processes-"))
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "knowledge" / "eval.jsonl").read_text().splitlines()
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_", "CHROMA_", "DATABASE_"))
    }
    postgres = PostgresCluster().start()
    try:
        url = postgres.new_database()
        with ChromaServer(root / "chroma") as chroma:
            subprocess.run(
                [sys.executable, "-m", "bot", "--data-dir", str(root / "ingest"), "ingest"]
                + [str(ROOT / "knowledge")],
                check=True,
                env={
                    **env,
                    "PYTHONPATH": str(ROOT),
                    "DATABASE_URL": url,
                    "CHROMA_HOST": "127.0.0.1",
                    "CHROMA_PORT": str(chroma.port),
                    "PARTNERS_FILE": str(ROOT / "knowledge" / "partners.yaml"),
                },
                stdout=subprocess.DEVNULL,
            )
            print(
                "| processes | users | questions | offered | answered | seconds | answers/s "
                "| reply p50 ms | reply p95 ms |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            with BotApiEmulator(token=TOKEN, bot_username="load_bot") as emu:
                users = [1000 + i for i in range(args.users)]
                for uid in users:
                    emu.user(uid, f"U{uid}", "en")
                for _ in range(args.repeat):
                    for n in args.processes:
                        cluster = Cluster(
                            emu, url, chroma.port, root / f"p{n}", LOG_LEVEL="WARNING"
                        )
                        cluster.start(*(f"p{n}-{chr(ord('a') + i)}" for i in range(n)))
                        try:
                            for rate in args.rates:
                                row = run_load(
                                    emu,
                                    users,
                                    questions,
                                    args.questions,
                                    rate,
                                    partial(cluster.deliver, connections=CONNECTIONS),
                                )
                                offered = f"{rate:g}/s" if rate else "burst"
                                print(
                                    f"| {n} (webhook) | {args.users} | {row['questions']:.0f} | "
                                    f"{offered} | {row['answered']:.0f} | {row['seconds']:.1f} | "
                                    f"{row['answered'] / row['seconds']:.1f} | {row['p50']:.0f} | "
                                    f"{row['p95']:.0f} |",
                                    flush=True,
                                )
                        finally:
                            cluster.stop()
    finally:
        postgres.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Drive the real bot (`exchange-bot run`) through the Bot API emulator with many simulated users.

Reports updates handled per second and reply latency (question sent → answer received) with the
offline extractive answerer. Usage: `python benchmarks/bot_load.py [--users 40] [--questions 5]
[--data-dir DIR]` (without --data-dir the sample knowledge base is ingested into a temp dir first).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.emulator import BotApiEmulator  # noqa: E402
from tests.e2e.test_bot import TOKEN, start_bot, stop_bot  # noqa: E402


def main() -> int:
    """Run the load and print a Markdown row."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--questions", type=int, default=5, help="questions per user")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="questions per second (0: all at once)"
    )
    args = parser.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="bot-load-")) / "data"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_"))
    }
    if args.data_dir is None:
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
            env=env,
            stdout=subprocess.DEVNULL,
        )
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "knowledge" / "eval.jsonl").read_text().splitlines()
    ]
    with BotApiEmulator(token=TOKEN, bot_username="load_bot", max_poll_timeout=1.0) as emu:
        users = [1000 + i for i in range(args.users)]
        for uid in users:
            emu.user(uid, f"U{uid}", "en")
        proc = start_bot(emu, data, RATE_LIMIT_QUESTIONS="1000", LOG_LEVEL="WARNING")
        try:
            sent_at: dict[tuple[int, int], float] = {}
            started = time.perf_counter()
            k = 0
            for round_ in range(args.questions):
                for uid in users:
                    emu.send_text(uid, questions[k % len(questions)])
                    k += 1
                    sent_at[(uid, round_ + 1)] = time.time()
                    if args.rate:
                        time.sleep(1 / args.rate)
            total = len(sent_at)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                answered = [
                    r for r in emu.sent if r["method"] == "sendMessage" and r.get("reply_markup")
                ]
                if len(answered) >= total:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            # the n-th answer in a user's chat answers that user's n-th question (one at a time per chat
            # is not guaranteed, so latency is measured per user in order of arrival)
            latencies = []
            per_user: dict[int, list[float]] = {}
            for record in answered:
                per_user.setdefault(record["chat_id"], []).append(record["time"])
            for uid, times in per_user.items():
                for n, t in enumerate(sorted(times), start=1):
                    latencies.append((t - sent_at[(uid, n)]) * 1000)
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(
                "| users | questions | offered | answered | seconds | answers/s | reply p50 ms | reply p95 ms |"
            )
            print("|---|---|---|---|---|---|---|---|")
            print(
                f"| {args.users} | {total} | {f'{args.rate:g}/s' if args.rate else 'burst'} | {len(answered)} | {elapsed:.1f} | {len(answered) / elapsed:.1f} | "
                f"{p50:.0f} | {p95:.0f} |"
            )
        finally:
            stop_bot(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

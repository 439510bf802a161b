"""Count the SQL statements and commits one answered question costs in the real bot, by source.

The Telegram application of `exchange-bot run` (inbox queue, handlers, use cases, jobs) runs in
this process against the Bot API emulator (tests/e2e/inprocess.py), on services built over a
data dir holding the sample store; every statement the database engine sends while `--users`
users each ask `--questions` questions of eval.jsonl (all at once) is charged to the bot code
that sent it. On SQLite (the data dir's database, copied first) and on PostgreSQL (a throwaway
cluster, tests/postgres.py; the sample knowledge base ingested into it first).

Usage: `python benchmarks/statements.py --data-dir DIR [--users 20] [--questions 2]
[--databases sqlite postgresql]` (DIR is copied, never written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.services import build_services  # noqa: E402
from tests.e2e.emulator import BotApiEmulator  # noqa: E402
from tests.e2e.inprocess import RunningBot, Tally, tally  # noqa: E402

TOKEN = "123456:TEST"
STAFF, ADMIN = 100, 1


def answered(emu: BotApiEmulator, since: int) -> int:
    """Return how many answers (messages with vote buttons) the bot sent since a mark."""
    return sum(
        1 for r in emu.sent[since:] if r["method"] == "sendMessage" and r.get("reply_markup")
    )


def measure(data: Path, url: str | None, users: int, rounds: int, questions: list[str]) -> Tally:
    """Run the bot on a data dir (and a database URL) and count one load's statements."""
    with BotApiEmulator(token=TOKEN, bot_username="count_bot", max_poll_timeout=1.0) as emu:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_data_dir=data,
            database_url=url,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=emu.base_url,
            staff_user_ids=[STAFF],
            admin_user_ids=[ADMIN],
            partners_file=ROOT / "knowledge" / "partners.yaml",
            rate_limit_questions=1000,
        )
        services = build_services(settings)
        try:
            ids = [1000 + i for i in range(users)]
            for uid in ids:
                emu.user(uid, f"U{uid}", "en")
            with RunningBot(services):
                # a first question per user outside the count: the users exist, the first
                # processes' start-up reads are done (what every later answer costs is counted)
                since = emu.mark()
                for uid in ids:
                    emu.send_text(uid, questions[0])
                _wait(emu, since, len(ids))
                since = emu.mark()
                with tally(services.db.engine) as counted:
                    k = 1
                    for _ in range(rounds):
                        for uid in ids:
                            emu.send_text(uid, questions[k % len(questions)])
                            k += 1
                    _wait(emu, since, users * rounds)
                    time.sleep(0.5)  # the last updates' `done`
        finally:
            services.close()
    return counted


def _wait(emu: BotApiEmulator, since: int, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while answered(emu, since) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{answered(emu, since)} of {count} answered")
        time.sleep(0.05)


def main() -> int:
    """Print one table: statements and commits per answered question, by source and database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True, help="the sample store (copied)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=2, help="counted questions per user")
    parser.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--sql", action="store_true", help="also print every statement")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "knowledge" / "eval.jsonl").read_text().splitlines()
    ]
    work = Path(tempfile.mkdtemp(prefix="statements-"))
    results: dict[str, Tally] = {}
    try:
        for database in args.databases:
            data = work / database
            if database == "sqlite":
                shutil.copytree(args.data_dir, data)
                results[database] = measure(data, None, args.users, args.questions, questions)
                continue
            from tests.postgres import PostgresCluster

            cluster = PostgresCluster().start()
            try:
                url = cluster.new_database()
                ingest = build_services(
                    Settings(_env_file=None, bot_data_dir=data, database_url=url)  # type: ignore[call-arg]
                )
                try:
                    report = ingest.ingestor.ingest([ROOT / "knowledge"])
                    assert not report.failed, report.failed
                finally:
                    ingest.close()
                results[database] = measure(data, url, args.users, args.questions, questions)
            finally:
                cluster.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.users * args.questions
    sources = sorted(
        {s for t in results.values() for s in t.statements}
        | {s for t in results.values() for s in t.commits}
    )
    head = " | ".join(f"{d}: statements | {d}: commits" for d in results)
    print(f"per answered question ({n} questions, {args.users} users)\n")
    print(f"| source | {head} |")
    print("|---|" + "---|---|" * len(results))
    for source in sorted(sources, key=lambda s: -max(t.statements[s] for t in results.values())):
        cells = " | ".join(
            f"{t.statements[source] / n:.2f} | {t.commits[source] / n:.2f}"
            for t in results.values()
        )
        print(f"| {source} | {cells} |")
    totals = " | ".join(
        f"**{t.total()[0] / n:.2f}** | **{t.total()[1] / n:.2f}**" for t in results.values()
    )
    print(f"| all | {totals} |")
    if args.sql:
        for database, t in results.items():
            print(f"\n{database}:")
            for line in t.sql:
                print(" ", line.replace("\n", " ")[:300])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""CPU per call of the account, answer-log, webinar and escalation statements, in process.

Each call runs as the bot runs it (its own session and transaction) on a fresh database; the
figure is the process's CPU time per call after 50 warm-up calls. Run it from two checkouts
(e.g. `git archive main` and a branch) to compare.

Usage: `python benchmarks/per_update_cpu.py [--calls 2000] [--postgresql]` (default: a SQLite
file in a temp dir; `--postgresql`: a database of a throwaway cluster, tests/postgres.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.accounts.service import AccountService  # noqa: E402
from bot.domain import Answer, Asker, Citation, Role, Visibility  # noqa: E402
from bot.followup.escalation import EscalationService, Reason  # noqa: E402
from bot.followup.feedback import FeedbackService  # noqa: E402
from bot.followup.webinars import WebinarService  # noqa: E402
from bot.schema import open_database  # noqa: E402
from tests.postgres import PostgresCluster  # noqa: E402


def timed(name: str, calls: int, call: Callable[[int], object]) -> None:
    """Print the CPU and wall time per call of `call(i)`, after 50 calls not counted."""
    for i in range(50):
        call(i)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(calls):
        call(i)
    cpu_ms = (time.process_time() - cpu) / calls * 1000
    wall_ms = (time.perf_counter() - wall) / calls * 1000
    print(f"{name:16s} CPU {cpu_ms:.3f} ms/call  wall {wall_ms:.3f} ms/call", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    cluster = PostgresCluster().start() if args.postgresql else None
    try:
        url = (
            cluster.new_database() if cluster else f"sqlite:///{Path(tempfile.mkdtemp()) / 'b.db'}"
        )
        run(url, args.calls)
    finally:
        if cluster:
            cluster.stop()


def run(url: str, n: int) -> None:
    """Time each kind of call `n` times on the database at `url`."""
    db = open_database(url)
    accounts = AccountService(db, [1, 2], [1])
    feedback, webinars, escalations = FeedbackService(db), WebinarService(db), EscalationService(db)
    cited = tuple(
        Citation(n, "doc.md", "Title", "A > B", "text " * 50, 0.5, Visibility.PUBLIC, f"c{n}")
        for n in range(1, 4)
    )
    answer, asker = Answer("How often?", "Every year [1].", cited, True, "en"), Asker(Role.PUBLIC)
    timed("touch", n, lambda i: accounts.touch(1000 + i % 40, "Ann", "ann", "en"))
    timed("person", n, lambda i: accounts.person(1 + i % 2))
    timed("log", n, lambda i: feedback.log(1000 + i % 40, 1000 + i % 40, asker, answer))
    timed("attendee_asker", n, lambda i: webinars.attendee_asker(1000 + i % 40))
    timed(
        "escalate",
        n,
        lambda i: escalations.escalate(1000 + i, 1000 + i, "Who pays?", "en", Reason.UNGROUNDED),
    )
    item = escalations.escalate(1, 1, "Who pays?", "en", Reason.UNGROUNDED).id
    timed("record_post", n, lambda i: escalations.record_post(item, 1 + i % 2, 10_000 + i))
    db.close()


if __name__ == "__main__":
    main()

"""The real Telegram application (bot/telegram/app.py) run in this process against the Bot API
emulator, and a count of the SQL statements and commits it sends, by the code that sent them.

`exchange-bot run` in a subprocess (tests/e2e/test_bot.py) cannot be counted from outside; here
the same Application (inbox queue, per-sender processor, handlers, jobs) runs on a loop thread
of this process, on services built as the process builds them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.services import Services
from bot.telegram.app import ALLOWED_UPDATES, build_application

BOT = str(Path(__file__).resolve().parents[2] / "bot") + "/"
# frames of these files are plumbing: the statement is charged to their caller
PLUMBING = ("storage/db.py",)

# where a statement comes from (file:function of the innermost bot frame) -> its name in tables
SOURCES = {
    "storage/inbox.py:store": "inbox: store",
    "storage/inbox.py:store_many": "inbox: store",
    "storage/inbox.py:claim": "inbox: claim",
    "storage/inbox.py:done": "inbox: done",
    "storage/inbox.py:_mark_done": "inbox: done",
    "storage/inbox.py:renew": "inbox: renew",
    "accounts/service.py:touch": "user: touch",
    "ratelimit.py:check": "rate limit",
    "ratelimit.py:sweep": "rate limit: old events forgotten (once a window)",
    "knowledge/store.py:chunks": "chunks read",
    "knowledge/store.py:version": "knowledge version",
    "knowledge/store.py:_version": "knowledge version",
    "followup/feedback.py:log": "answer log",
    "followup/webinars.py:attendee_asker": "webinar check",
    "followup/webinars.py:is_staff_reply": "staff-reply check",
    "followup/survey.py:is_comment": "survey-comment check",
    "storage/flows.py:open": "flow check",
    "storage/flows.py:current": "flow check",
}


def source_of_statement() -> str:
    """Name the bot code that sent the statement being executed (walks this thread's stack)."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(BOT) and not name.endswith(PLUMBING):
            where = f"{name.removeprefix(BOT)}:{frame.f_code.co_name}"
            return SOURCES.get(where, where)
        frame = frame.f_back
    return "(outside bot/)"


@dataclass
class Tally:
    """Statements and commits counted by source while a block ran."""

    statements: Counter[str] = field(default_factory=Counter)
    commits: Counter[str] = field(default_factory=Counter)
    sql: list[str] = field(default_factory=list)

    def total(self, exclude: tuple[str, ...] = ()) -> tuple[int, int]:
        """Return (statements, commits), leaving out the named sources."""
        return (
            sum(n for s, n in self.statements.items() if s not in exclude),
            sum(n for s, n in self.commits.items() if s not in exclude),
        )


@contextmanager
def tally(engine: Engine) -> Iterator[Tally]:
    """Count the statements (BEGIN and COMMIT left out) and commits an engine sends, by source."""
    counted = Tally()
    lock = threading.Lock()

    def on_statement(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        word = statement.split(None, 1)[0].upper() if statement.strip() else ""
        if word in {"BEGIN", "COMMIT", "ROLLBACK"}:
            return
        source = source_of_statement()
        with lock:
            counted.statements[source] += 1
            counted.sql.append(f"{source}: {statement}")

    def on_commit(_conn: object) -> None:
        source = source_of_statement()
        with lock:
            counted.commits[source] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


class RunningBot:
    """The Telegram application on its own event-loop thread, long-polling the emulator."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app = build_application(services.settings, services)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bot-loop", daemon=True)

    def _run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> RunningBot:
        """Initialise, run post_init (models, inbox claims, jobs) and start polling."""
        self._thread.start()

        async def start() -> None:
            await self.app.initialize()
            if self.app.post_init is not None:
                await self.app.post_init(self.app)
            await self.app.updater.start_polling(  # type: ignore[union-attr]
                poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
            )
            await self.app.start()

        self._run(start())
        return self

    def stop(self) -> None:
        """Stop polling and the application, as run_polling does."""

        async def stop() -> None:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            if self.app.post_stop is not None:
                await self.app.post_stop(self.app)
            await self.app.shutdown()

        try:
            self._run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> RunningBot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Make two database users race for real: each is held before a chosen statement until all are.

A race test that only starts two threads at once may pass by luck, each thread done before the
other starts. Here each Database's first statement matching a pattern waits at a barrier until
every racer has reached it, so the work before it (a check, a read) has been done by all of them
before any of them writes: the interleaving that loses work or doubles it on check-then-write.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import event

from bot.storage.db import Database


@contextmanager
def held_before(dbs: Sequence[Database], pattern: str, timeout: float = 10.0) -> Iterator[None]:
    """Hold each database's first statement matching `pattern` until every database sent one."""
    barrier = threading.Barrier(len(dbs), timeout=timeout)
    hooks = []
    for db in dbs:
        fired = threading.Event()

        def hold(
            _c: Any, _cur: Any, statement: str, *_: Any, fired: threading.Event = fired
        ) -> None:
            if not fired.is_set() and re.search(pattern, statement, re.I | re.S):
                fired.set()
                # a racer that never gets there breaks the barrier: the others go on alone
                with suppress(threading.BrokenBarrierError):
                    barrier.wait()

        event.listen(db.engine, "before_cursor_execute", hold)
        hooks.append((db, hold))
    try:
        yield
    finally:
        for db, hold in hooks:
            event.remove(db.engine, "before_cursor_execute", hold)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads at once; return each one's result or the exception it raised."""
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 (the caller inspects it)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results

"""Long work (an upload's download and ingest) done after the act that asked for it returned."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Stopping(Exception):
    """The bot is shutting down: a job raises this where it can stop cleanly."""


class Jobs:
    """Runs jobs one after another on a thread of their own; they report through the outbox.

    One at a time, since the ingest they mostly are runs one at a time anyway. The thread is a
    daemon: a job that does not reach a point where it can stop (`check`) within `close`'s
    timeout is not what keeps a stopping bot alive.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Job) -> None:
        """Queue a job (started on the first job, so an application never used starts none)."""
        with self._lock:
            if self._stopping.is_set():
                raise Stopping
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
                self._thread.start()
            self._queue.put(job)

    def check(self) -> None:
        """Raise Stopping once the bot is shutting down (jobs call it between steps)."""
        if self._stopping.is_set():
            raise Stopping

    def idle(self, timeout: float = 600.0) -> bool:
        """Wait until every queued job is done; return False on timeout (for tests and tools)."""
        done = threading.Event()
        with self._lock:
            if self._thread is None:
                return True
            self._queue.put(done.set)
        return done.wait(timeout)

    def close(self, timeout: float = 20.0) -> None:
        """Ask running and queued jobs to stop, and wait for them up to `timeout` seconds."""
        with self._lock:
            self._stopping.set()
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("a job did not stop within %.0f s; leaving it", timeout)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job()
            except Exception:  # a job reports its own failures; this only keeps the thread
                log.exception("job failed")

"""Bounded parsing: office files are inspected before they are parsed, and parsing runs in a
worker process with a memory and a time limit, so a hostile file costs a refusal, not the bot.

A .docx of 3.5 MB can unpack to gigabytes of XML, and the parsers hold all of it (and a tree of
it) in memory. Zip containers are therefore refused on what their directory declares (zipfile
never unpacks a member past its declared size), and whatever still runs away (a PDF, an HWP, a
file that is merely huge) hits the worker's address-space limit or its clock instead of the bot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from bot.domain import Visibility
from bot.knowledge.loaders import LoadedDocument, LoadError, load

log = logging.getLogger(__name__)

MB = 1024 * 1024
ZIP_CONTAINERS = {".docx": "DOCX", ".hwpx": "HWPX"}
# a member smaller than this cannot hurt however well it compresses, and small XML parts of
# legitimate files (styles, empty tables) do reach ratios over 100:1
RATIO_FLOOR = 1 * MB


@dataclass(frozen=True)
class ParseLimits:
    """How far a file may unpack and what parsing it may cost; each limit is a setting."""

    max_unpacked_mb: int = 200
    max_zip_members: int = 2000
    max_compression_ratio: float = 100.0
    memory_mb: int = 1024
    timeout_s: float = 120.0


def inspect(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip container that unpacks too far; the LoadError names the limit's setting."""
    kind = ZIP_CONTAINERS.get(path.suffix.lower())
    if kind is None:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise LoadError(f"corrupt {kind}: {exc}") from exc
    if len(members) > limits.max_zip_members:
        raise LoadError(
            f"the {kind} holds {len(members):,} parts, more than {limits.max_zip_members:,} "
            "(setting MAX_ZIP_MEMBERS)"
        )
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_unpacked_mb * MB:
        raise LoadError(
            f"the {kind} unpacks to {unpacked / MB:,.0f} MB, more than {limits.max_unpacked_mb:,}"
            " MB (setting MAX_UNPACKED_MB)"
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size >= RATIO_FLOOR and ratio > limits.max_compression_ratio:
            raise LoadError(
                f"the {kind} part {m.filename} is compressed {ratio:,.0f}:1, more than "
                f"{limits.max_compression_ratio:g}:1 (setting MAX_COMPRESSION_RATIO)"
            )


def load_bounded(
    path: Path, source: str, default_visibility: Visibility, limits: ParseLimits
) -> LoadedDocument:
    """Inspect a file, then load it (in whatever process calls this)."""
    inspect(path, limits)
    return load(path, source, default_visibility)


class ParseWorker:
    """Parses files in one reused child process with a memory and a time limit.

    The child is a fresh interpreter (the bot's threads make forking it unsafe, and a `-c`
    bootstrap spares it the bot's main module), started on the first file and kept for the next
    ones; a child that ran out of memory, crashed or overran its time is stopped and the next
    file starts another. One file at a time; requests and documents travel pickled over pipes.
    """

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or ParseLimits()
        self.starts = 0  # how many children were started (tests and measurements read it)
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None

    def load(self, path: Path, source: str, default_visibility: Visibility) -> LoadedDocument:
        """Inspect and load a file in the worker; raise LoadError when refused or over a limit."""
        with self._lock:
            child = self._running()
            assert child.stdin is not None and child.stdout is not None
            try:
                request = (str(path.absolute()), source, default_visibility.value, self.limits)
                pickle.dump(request, child.stdin)
                child.stdin.flush()
                answered = bool(wait([child.stdout.fileno()], self.limits.timeout_s))
                reply: tuple[str, Any] = (
                    pickle.load(child.stdout) if answered else ("timeout", None)
                )
            except (OSError, EOFError, pickle.UnpicklingError):  # the child died on the file
                raise LoadError(self._died(self._stop())) from None
            status, value = reply
            if status == "timeout":
                self._stop()
                raise LoadError(
                    f"reading it took longer than {self.limits.timeout_s:g} s "
                    "(setting PARSE_TIMEOUT_S)"
                )
            if status == "memory":
                self._stop()  # the child exits after a MemoryError; reap it
                raise LoadError(self._memory())
            if status == "error":
                raise LoadError(value)
            document: LoadedDocument = value
            return document

    def close(self) -> None:
        """Stop the child, if one runs."""
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self._stop()
        limits = [str(self.limits.memory_mb)]
        # the child finds bot/ (and everything else) where this process does
        self._child = subprocess.Popen(
            [sys.executable, "-c", _BOOT, *limits, *sys.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.starts += 1
        return self._child

    def _stop(self) -> int | None:
        """Kill and reap the child; return its exit code (negative: the signal)."""
        child, self._child = self._child, None
        if child is None:
            return None
        if child.poll() is None:
            child.kill()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return child.wait()

    def _memory(self) -> str:
        return f"reading it needed more than {self.limits.memory_mb:,} MB (setting PARSE_MEMORY_MB)"

    def _died(self, code: int | None) -> str:
        log.warning("the parser process stopped (exit code %s) on a file", code)
        if code is not None and code < 0:  # killed (the OOM killer) or crashed (a failed malloc)
            return f"the reader stopped (signal {-code}), most likely out of memory: " + (
                self._memory()
            )
        return f"the reader stopped (exit code {code}); its error is in the log"


_BOOT = (
    "import sys; memory_mb = int(sys.argv[1]); sys.path[:0] = sys.argv[2:]; "
    "from bot.knowledge.limits import serve; serve(memory_mb)"
)


def serve(memory_mb: int) -> None:
    """Answer load requests on stdin until the parent goes away (the child's main loop)."""
    cap = memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, not the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # answers go out on a private copy of stdout; a library printing to stdout (fd 1) must not
    # corrupt them, so fd 1 becomes stderr
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        try:
            path, source, visibility, limits = pickle.load(requests)
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        reply: tuple[str, Any]
        try:
            reply = ("ok", load_bounded(Path(path), source, Visibility(visibility), limits))
        except MemoryError:
            reply = ("memory", "")
        except LoadError as exc:
            reply = ("memory", "") if _out_of_memory(exc) else ("error", str(exc))
        except Exception as exc:  # never let one file end the worker with a traceback
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:  # the document was read but its pickle does not fit
            reply = ("memory", "")
            data = pickle.dumps(reply)
        answers.write(data)
        answers.flush()
        if reply[0] == "memory":
            return  # what ran out of memory may have left a parser half-done: start afresh


def _out_of_memory(exc: LoadError) -> bool:
    """Tell whether a loader's error is a parser that could not allocate (libxml2, expat)."""
    cause = exc.__cause__
    if isinstance(cause, MemoryError):
        return True
    text = str(cause or "").lower()
    return "out of memory" in text or "memory allocation failed" in text

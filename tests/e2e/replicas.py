"""Several `exchange-bot run` processes in webhook mode on one PostgreSQL and one Chroma server,
with the test as their load balancer and the Bot API emulator as Telegram.

    with ChromaServer(tmp / "chroma") as chroma:
        cluster = Cluster(emu, database_url, chroma.port, tmp)
        a, b = cluster.start("a", "b")          # real subprocesses; waits for /readyz
        emu.send_text(42, "How often ...?")     # queued in the emulator
        cluster.deliver()                        # pushed to a, the next ones to b, a, ...
        cluster.deliver(to=b)                    # or all to one process
        cluster.deliver(together=True)           # or all at the same moment (races)
        b.kill()                                 # SIGKILL; b.stop() is SIGTERM and waits
        cluster.answers(42)                      # the answers (messages with vote buttons)

Each process has its own empty data dir (what is shared lives in PostgreSQL and Chroma), its
own webhook port and PROCESS_NAME, and logs to a file (`replica.log_text()`). Extra settings
go to `start(..., SETTING="value")`, e.g. a short REMINDER_POLL_S for reminder tests.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

from .emulator import BotApiEmulator

TOKEN = "123456:TEST"
SECRET = "replica-secret"
PUBLIC_URL = "https://bot.example.org/tg"
CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook_path(token: str = TOKEN) -> str:
    from bot.config import webhook_path as path

    return path(token)


class ChromaServer:
    """`chroma run` on a free port, with its data in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ChromaServer:
        exe = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
        if exe is None:
            raise RuntimeError("the chroma CLI is not installed (pip install chromadb)")
        self.proc = subprocess.Popen(
            [exe, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError("chroma run did not start")
            time.sleep(0.3)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def vectors(self, prefix: str = "exchange_bot") -> dict[str, int]:
        """Return how many vectors each collection of the prefix holds (read past the bot)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(
            host="127.0.0.1", port=self.port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        found = {}
        for existing in client.list_collections():
            name = existing if isinstance(existing, str) else existing.name
            if name.startswith(f"{prefix}_"):
                found[name] = int(client.get_collection(name).count())
        return found


class Replica:
    """One `exchange-bot run` process in webhook mode."""

    def __init__(self, name: str, data: Path, env: dict[str, str]) -> None:
        self.name = name
        self.data = data
        self.port = int(env["TELEGRAM_WEBHOOK_PORT"])
        self.log_path = data.with_name(f"{name}.log")
        data.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        exe = Path(sys.executable).with_name("exchange-bot")
        cmd = [str(exe), "run"] if exe.exists() else [sys.executable, "-m", "bot", "run"]
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._log
        )
        self.pushed: list[int] = []  # the update ids the balancer sent here

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        """GET a path of the webhook port; return the status and the JSON body."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:
                return int(response.status), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, json.loads(body or b"{}")
            except ValueError:
                return exc.code, {"body": body.decode(errors="replace")}

    def push(self, update: dict[str, Any], secret: str = SECRET) -> int:
        """POST an update to the webhook path as Telegram does; return the HTTP status."""
        request = urllib.request.Request(
            self.url(webhook_path()),
            data=json.dumps(update).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": secret,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        if status == 200:
            self.pushed.append(int(update["update_id"]))
        return status

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until /readyz says ready; fail with the log if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} not ready in {timeout}s:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.3)

    def wait_exit(self, timeout: float = 120) -> int:
        """Wait for the process to end; return its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still runs:\n{self.log_text()[-3000:]}") from None

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; return the exit code (killed: -9)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: nothing is finished, nothing flushed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text("utf-8", errors="replace")


class Cluster:
    """The processes sharing one database and one Chroma server, and the balancer before them."""

    def __init__(
        self,
        emu: BotApiEmulator,
        database_url: str,
        chroma_port: int,
        root: Path,
        **env: str,
    ) -> None:
        self.emu = emu
        self.database_url = database_url
        self.chroma_port = chroma_port
        self.root = root
        self.env = env
        self.replicas: list[Replica] = []
        self._turn = itertools.count()

    def environment(self, name: str, data: Path, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_", "CHROMA_", "DATABASE_"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=self.emu.base_url,
            TELEGRAM_WEBHOOK_URL=PUBLIC_URL,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
            TELEGRAM_WEBHOOK_PORT=str(free_port()),
            BOT_DATA_DIR=str(data),
            DATABASE_URL=self.database_url,
            CHROMA_HOST="127.0.0.1",
            CHROMA_PORT=str(self.chroma_port),
            PARTNERS_FILE=str(ROOT / "knowledge" / "partners.yaml"),
            RATE_LIMIT_QUESTIONS="1000",
            LOG_LEVEL="INFO",
            PROCESS_NAME=name,
        )
        env.update(self.env)
        env.update(extra)
        return env

    def spawn(self, name: str, **extra: str) -> Replica:
        """Start a process (not waiting for it); it gets no updates until `start` adds it."""
        data = self.root / name / "data"
        return Replica(name, data, self.environment(name, data, **extra))

    def start(self, *names: str, **extra: str) -> list[Replica]:
        """Start processes at once, wait until each is ready, put them behind the balancer."""
        started = [self.spawn(name, **extra) for name in names]
        try:
            for replica in started:
                replica.wait_ready()
        except BaseException:
            for replica in started:
                replica.stop(10)
            raise
        self.replicas.extend(started)
        return started

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.proc.poll() is None]

    def deliver(
        self, to: Replica | None = None, together: bool = False, connections: int = 1
    ) -> list[tuple[int, Replica]]:
        """Push the emulator's queued updates, each to the next live process in turn (or all
        to `to`); each must be answered 200. Return (update id, process) of each.

        `together`: all pushed at the same moment, one thread each (two partners redeeming one
        invite, two bookings of one slot), instead of one after another. `connections`: pushed
        over that many at a time, as Telegram does (a webhook's max_connections, 40 by default).
        """
        plan = []
        for update in self.emu.take_updates():
            live = self.live()
            plan.append((update, to or live[next(self._turn) % len(live)]))

        def push(item: tuple[dict[str, Any], Replica]) -> tuple[int, Replica]:
            update, target = item
            status = target.push(update)
            assert status == 200, f"{target.name} answered {status} to update {update['update_id']}"
            return int(update["update_id"]), target

        if len(plan) < 2 or (not together and connections < 2):
            return [push(item) for item in plan]
        if not together:
            with ThreadPoolExecutor(min(connections, len(plan))) as pool:
                return list(pool.map(push, plan))
        start = threading.Barrier(len(plan))

        def at_once(item: tuple[dict[str, Any], Replica]) -> tuple[int, Replica]:
            start.wait(10)
            return push(item)

        with ThreadPoolExecutor(len(plan)) as pool:
            return list(pool.map(at_once, plan))

    def answers(self, chat: int) -> list[dict[str, Any]]:
        """Return the answers sent to a chat (the messages with vote buttons)."""
        return [
            r
            for r in self.emu.messages_to(chat)
            if r["method"] == "sendMessage"
            and any(
                str(b.get("callback_data", "")).startswith("v:")
                for row in (r.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            )
        ]

    def wait(self, condition: Any, timeout: float = 60, what: str = "condition") -> None:
        """Wait until `condition()` holds, failing with the processes' log tails."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {r.name}\n{r.log_text()[-1500:]}" for r in self.replicas)
                raise AssertionError(f"{what}: not within {timeout}s\n{tails}")
            time.sleep(0.1)

    def stop(self) -> dict[str, str]:
        """Stop every process (SIGTERM); return each one's log."""
        logs = {}
        for replica in self.replicas:
            replica.stop()
            logs[replica.name] = replica.log_text()
        return logs

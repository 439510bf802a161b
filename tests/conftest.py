"""Shared fixtures: the real models load once per session; stores live in temp dirs."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.nlp import Analyzer
from bot.retrieval.embedder import E5Embedder
from bot.services import Services, build_services
from tests.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"

logging.getLogger("bm25s").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own .env and secrets out of the tests."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "EMBEDDINGS_BASE_URL",
        "EMBEDDINGS_MODEL",
        "EMBEDDINGS_QUERY_MODEL",
        "EMBEDDINGS_API_KEY",
        "EMBEDDINGS_INPUT_STYLE",
        "CHROMA_HOST",
        "BOT_DATA_DIR",
        "DATABASE_URL",
        "STAFF_USER_IDS",
        "ADMIN_USER_IDS",
    ):
        monkeypatch.delenv(name, raising=False)


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """Start a throwaway PostgreSQL cluster once per test run (Debian's postgresql)."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


def backend_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    """Return a fresh database URL on a backend: a file in `folder`, or a new PostgreSQL one."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/bot.sqlite3"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a fresh, empty database, once on SQLite and once on PostgreSQL."""
    return backend_url(request, request.param, tmp_path)


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """Return the real Kiwi analyzer, loaded once."""
    a = Analyzer()
    a.warm_up()
    return a


@pytest.fixture(scope="session")
def embedder() -> E5Embedder:
    """Return the real e5 embedder, loaded once."""
    return E5Embedder()


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Return settings isolated from the environment's .env file."""
    return Settings(_env_file=None, bot_data_dir=data_dir, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def make_services(tmp_path: Path, embedder: E5Embedder, analyzer: Analyzer) -> Iterator[object]:
    """Build real services on a fresh temp data dir (call it to get one)."""
    built: list[Services] = []

    def factory(data_dir: Path | None = None, **overrides: object) -> Services:
        services = build_services(
            make_settings(data_dir or tmp_path / "data", **overrides),
            embedder=embedder,
            analyzer=analyzer,
        )
        built.append(services)
        return services

    yield factory
    for s in built:
        s.close()


@pytest.fixture(scope="session")
def sample_services(
    tmp_path_factory: pytest.TempPathFactory, embedder: E5Embedder, analyzer: Analyzer
) -> Iterator[Services]:
    """Real services with the whole sample knowledge base ingested once per session."""
    data = tmp_path_factory.mktemp("sample-data")
    services = build_services(make_settings(data), embedder=embedder, analyzer=analyzer)
    report = services.ingestor.ingest([KNOWLEDGE])
    assert not report.failed, report.failed
    yield services
    services.close()


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements an engine sends to the database inside the block."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def write(path: Path, text: str) -> Path:
    """Write a UTF-8 file, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def copy_sample(dest: Path, *names: str) -> None:
    """Copy sample documents (and their sidecars) into dest, keeping relative paths."""
    for name in names:
        src = KNOWLEDGE / name
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest / name)
        sidecar = src.with_name(src.name + ".meta.yaml")
        if sidecar.exists():
            shutil.copy(sidecar, dest / (name + ".meta.yaml"))


def chat_completion(content: str) -> dict[str, object]:
    """Return an OpenAI chat-completion response body, as the fake LLM endpoint sends it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class FakeOpenAI:
    """An OpenAI-compatible endpoint on 127.0.0.1: every chat completion is `reply`; lists models."""

    def __init__(self, reply: str, models: tuple[str, ...] = ("gpt-4o-mini",)) -> None:
        self.reply = reply
        self.models = models
        self.requests: list[tuple[str, str]] = []  # (method, path), in the order they came
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.requests.append(("GET", self.path))
                if self.path.rstrip("/") == "/v1/models":
                    listed = [{"id": m, "object": "model"} for m in fake.models]
                    self._send(200, {"object": "list", "data": listed})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(("POST", self.path))
                if self.path.rstrip("/") == "/v1/chat/completions":
                    self._send(200, chat_completion(fake.reply))
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        """Return the value for OPENAI_BASE_URL."""
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the three 1.2 GB zip bombs once per run (a few MB each on disk, ~15 s in all)."""
    from tests.knowledge.bombs import docx_bomb, hwpx_bomb

    folder = tmp_path_factory.mktemp("bombs")
    return {
        "paragraphs": docx_bomb(folder / "paragraphs.docx", b"<w:p/>"),
        "spaces": docx_bomb(folder / "spaces.docx", b" "),
        "hwpx": hwpx_bomb(folder / "elements.hwpx"),
    }

"""Shared fixtures: the real models load once per session; stores live in temp dirs."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.nlp import Analyzer
from bot.retrieval.embedder import E5Embedder
from bot.services import Services, build_services
from tests.postgres import PostgresCluster


def bare_env() -> dict[str, str]:
    """Return this process's environment without the bot's settings (OPENAI_, TELEGRAM_, BOT_):
    what a bot subprocess of a test starts from, whatever the developer's shell has set."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_"))
    }


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


def services_over(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    docs: dict[str, str],
    embedder: E5Embedder,
    analyzer: Analyzer,
) -> Services:
    """Build services over a small knowledge base of these documents (file name -> text), ingested."""
    root = tmp_path_factory.mktemp(f"{name}-kb")
    for file, text in docs.items():
        write(root / file, text)
    built = build_services(
        make_settings(tmp_path_factory.mktemp(f"{name}-data")), embedder=embedder, analyzer=analyzer
    )
    report = built.ingestor.ingest([root])
    assert not report.failed, report.failed
    return built


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


def chat_chunk(content: str, finish: str | None = None) -> dict[str, object]:
    """Return one server-sent event's body of a streamed chat completion."""
    delta = {"content": content} if content else {}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def pieces_of(text: str, n: int) -> list[str]:
    """Cut a text into n pieces of about equal length (at spaces where it can)."""
    words = text.split(" ")
    per = max(1, -(-len(words) // max(n, 1)))
    return [
        " ".join(words[i : i + per]) + (" " if i + per < len(words) else "")
        for i in range(0, len(words), per)
    ]


TRANSLATION_MARK = "You translate a question"  # how prompts/translate_system.txt begins


class FakeOpenAI:
    """An OpenAI-compatible endpoint on 127.0.0.1: every chat completion is `reply` (or what
    `reply(body)` returns); lists models.

    A request with `stream: true` is answered with server-sent events: the reply in `pieces`
    pieces, `delay` seconds apart; with `cut_after`, the connection drops after that many
    pieces, in the middle of the chunked body, as a server that dies mid-answer does. A request
    whose system prompt is the question translation's is answered from `translations`
    (question -> translation; the question itself when it is not there) after
    `translation_delay` seconds. Every request body is kept in `bodies`.
    """

    def __init__(
        self,
        reply: str | Callable[[dict[str, Any]], str],
        models: tuple[str, ...] = ("gpt-4o-mini",),
        *,
        pieces: int = 1,
        delay: float = 0.0,
        cut_after: int | None = None,
        translations: dict[str, str] | None = None,
        translation_delay: float = 0.0,
    ) -> None:
        self.reply = reply
        self.models = models
        self.pieces = pieces
        self.delay = delay
        self.cut_after = cut_after
        self.translations = translations or {}
        self.translation_delay = translation_delay
        self.requests: list[tuple[str, str]] = []  # (method, path), in the order they came
        self.bodies: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked bodies, and a stream that can break

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, piece in enumerate(pieces_of(text, fake.pieces)):
                    if fake.cut_after is not None and i >= fake.cut_after:
                        self.close_connection = True  # no last chunk: the body is incomplete
                        return
                    if i and fake.delay:
                        time.sleep(fake.delay)
                    self._chunk(f"data: {json.dumps(chat_chunk(piece))}\n\n".encode())
                self._chunk(f"data: {json.dumps(chat_chunk('', 'stop'))}\n\n".encode())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.requests.append(("GET", self.path))
                if self.path.rstrip("/") == "/v1/models":
                    listed = [{"id": m, "object": "model"} for m in fake.models]
                    self._send(200, {"object": "list", "data": listed})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(("POST", self.path))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(raw or b"{}")
                fake.bodies.append(body)
                messages = body.get("messages") or [{}]
                if TRANSLATION_MARK in str(messages[0].get("content", "")):
                    question = str(messages[-1].get("content", ""))
                    time.sleep(fake.translation_delay)
                    self._send(200, chat_completion(fake.translations.get(question, question)))
                    return
                text = fake.reply(body) if callable(fake.reply) else fake.reply
                if body.get("stream"):
                    self._stream(text)
                else:
                    self._send(200, chat_completion(text))

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        """Return the value for OPENAI_BASE_URL."""
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def translation_requests(self) -> list[dict[str, Any]]:
        """Return the bodies of the translation calls, in order."""
        return [
            b
            for b in self.bodies
            if TRANSLATION_MARK in str((b.get("messages") or [{}])[0].get("content", ""))
        ]

    def answer_requests(self) -> list[dict[str, Any]]:
        """Return the bodies of the answer calls, in order."""
        return [b for b in self.bodies if b not in self.translation_requests()]

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the connected mode's corpus
KO = "---\ntitle: {title}\nvisibility: public\nlanguage: ko\n---\n{body}\n"
CONNECTED_DOCS = {
    "ko/darkhan-youth.md": KO.format(
        title="한빛시–다르항 청소년 교류 계획",
        body="# 교류단 구성\n\n2025년 다르항 청소년 교류단은 학생 12명과 인솔 교사 2명으로 "
        "구성한다. 교류단은 7월 21일에 출발하여 열흘간 머문다.",
    ),
    "ko/budget.md": KO.format(
        title="2026년 국제교류 예산 계획",
        body="# 총괄\n\n2026년 국제교류 예산은 총 3억 2천만 원이며, 그중 청소년 교류에 "
        "8천만 원을 배정한다.",
    ),
    "ko/festival.md": KO.format(
        title="한빛 세계 음식 축제 운영 계획",
        body="# 일정\n\n축제는 매년 10월 둘째 주 토요일에 시청 광장에서 열린다.",
    ),
    # no language in its metadata: counted as its chunks are (Korean)
    "ko/notes.txt": "국제교류팀 회의록\n\n다음 회의는 자매도시 담당자 연수 계획을 다룬다.\n",
    "en/riverton.md": (
        "---\ntitle: Riverton sister-city agreement\nvisibility: public\nlanguage: en\n---\n"
        "# Article 5 Review\n\nThe parties review this agreement every three years.\n"
    ),
}
QUESTION = "How many students are in the 2025 youth delegation to Darkhan?"
TRANSLATION = "2025년 다르항 청소년 교류단의 학생은 몇 명인가요?"
FACT = "12명"


def cite_the_fact(body: dict[str, Any]) -> str:
    """Answer as a model would: cite the document of the context that holds the fact."""
    context = str(body["messages"][-1]["content"])
    for n, text in re.findall(r'<document n="(\d+)"[^>]*>(.*?)</document>', context, re.S):
        if FACT in text:
            return f"The 2025 delegation has 12 students and 2 teachers [{n}]."
    return "NO_ANSWER"


@pytest.fixture(scope="session")
def connected_data(tmp_path_factory: pytest.TempPathFactory, embedder, analyzer) -> Path:  # type: ignore[no-untyped-def]
    """Return a data dir with the connected-mode corpus (mostly Korean) ingested, once."""
    root = tmp_path_factory.mktemp("connected")
    for name, text in CONNECTED_DOCS.items():
        write(root / "kb" / name, text)
    services = build_services(make_settings(root / "data"), embedder=embedder, analyzer=analyzer)
    assert services.ingestor.ingest([root / "kb"]).added == len(CONNECTED_DOCS)
    services.close()
    return root / "data"


@pytest.fixture
def connected(connected_data: Path, embedder, analyzer) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Return a function building services on the corpus against a fake model."""
    built: list[Services] = []

    def build(fake: FakeOpenAI, **overrides: object) -> Services:
        settings = make_settings(
            connected_data,
            openai_base_url=fake.url,
            openai_api_key="sk-test-connected",
            openai_max_retries=0,
            **overrides,
        )
        services = build_services(settings, embedder=embedder, analyzer=analyzer)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


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

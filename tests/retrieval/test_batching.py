"""Micro-batching of question embeddings (QueryBatcher) with the real e5 embedder."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.domain import Asker, Role
from bot.retrieval.batching import BatcherClosed, QueryBatcher
from bot.retrieval.embedder import E5Embedder, engine_on_one_core
from bot.services import Services

QUESTIONS = [
    "How long is the agreement with Düsseldorf valid?",
    "비엔호아와의 교류 협약은 언제 체결되었나요?",
    "Wer bezahlt die Reisekosten der Delegation?",
    "Ai chịu chi phí chỗ ở cho đoàn?",
    "What is the deadline for the interpretation request?",
    "청소년 교류 프로그램 신청 방법은?",
    "Who is the contact person for Darkhan?",
    "When does the webinar on hydrogen buses start?",
]


class _Counting:
    """The real embedder, counting the engine calls and failing a batch that holds `poison`."""

    def __init__(self, inner: E5Embedder, poison: str = "") -> None:
        self.inner = inner
        self.dim = inner.dim
        self.poison = poison
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        if self.poison and self.poison in texts:
            raise RuntimeError("engine failed")
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def _together(run: object, args: Sequence[object]) -> list[object]:
    """Call run(arg) for each arg in its own thread, all released at once; results in order."""
    results: list[object] = [None] * len(args)
    gate = threading.Barrier(len(args))

    def one(i: int) -> None:
        gate.wait()
        try:
            results[i] = run(args[i])  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the test looks at what each caller got
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_callers_get_their_own_vectors_equal_to_embedding_alone(
    embedder: E5Embedder,
) -> None:
    alone = {q: embedder.embed_queries([q])[0] for q in QUESTIONS}
    counting = _Counting(embedder)
    batcher = QueryBatcher(counting, wait_s=0.05, max_batch=16, lanes=2)
    try:
        got = _together(batcher.embed_query, QUESTIONS)
    finally:
        batcher.close()
    for question, vector in zip(QUESTIONS, got, strict=True):
        assert isinstance(vector, np.ndarray), vector
        assert vector.shape == (embedder.dim,)
        assert np.allclose(vector, alone[question], atol=1e-5), question
    # embedded together: fewer engine calls than questions, every question exactly once
    assert len(counting.calls) < len(QUESTIONS)
    assert sorted(t for call in counting.calls for t in call) == sorted(QUESTIONS)
    assert batcher.texts == len(QUESTIONS)


def test_a_request_of_several_texts_is_one_batch_and_keeps_its_order(
    embedder: E5Embedder,
) -> None:
    counting = _Counting(embedder)
    batcher = QueryBatcher(counting, wait_s=0.0, lanes=1)
    try:
        rows = batcher.embed_queries(QUESTIONS[:2])
    finally:
        batcher.close()
    assert counting.calls == [QUESTIONS[:2]]  # one engine call for both texts
    for row, question in zip(rows, QUESTIONS[:2], strict=True):
        assert np.allclose(row, embedder.embed_queries([question])[0], atol=1e-5)


def test_a_failing_batch_fails_each_caller_with_the_error_and_the_lane_goes_on(
    embedder: E5Embedder,
) -> None:
    counting = _Counting(embedder, poison="boom")
    batcher = QueryBatcher(counting, wait_s=0.2, max_batch=3, lanes=1)
    try:
        got = _together(batcher.embed_query, ["boom", QUESTIONS[0], QUESTIONS[1]])
        assert len(counting.calls) == 1, "all three in one batch"
        for result in got:
            assert isinstance(result, RuntimeError) and str(result) == "engine failed"
        # the next question, in a batch of its own, is answered
        vector = batcher.embed_query(QUESTIONS[2])
    finally:
        batcher.close()
    assert np.allclose(vector, embedder.embed_queries([QUESTIONS[2]])[0], atol=1e-5)


def test_the_wait_is_bounded_by_the_setting(embedder: E5Embedder) -> None:
    counting = _Counting(embedder)
    batcher = QueryBatcher(counting, wait_s=0.3, max_batch=16, lanes=1)
    try:
        batcher.embed_query(QUESTIONS[0])  # lanes started, engine warm
        counting.calls.clear()
        started = time.monotonic()
        batcher.embed_query(QUESTIONS[1])  # alone: waits for company, then goes alone
        waited = time.monotonic() - started
        # a second caller 0.1 s later, within the first one's wait, shares its batch
        got = _together(
            lambda delay: (time.sleep(delay), batcher.embed_query(QUESTIONS[2]))[1], [0.0, 0.1]
        )
    finally:
        batcher.close()
    assert 0.3 <= waited < 0.3 + 5.0
    assert counting.calls[0] == [QUESTIONS[1]]
    assert counting.calls[1:] == [[QUESTIONS[2], QUESTIONS[2]]]
    assert all(isinstance(v, np.ndarray) for v in got)


def test_a_full_batch_does_not_wait(embedder: E5Embedder) -> None:
    batcher = QueryBatcher(_Counting(embedder), wait_s=30.0, max_batch=2, lanes=1)
    try:
        started = time.monotonic()
        _together(batcher.embed_query, QUESTIONS[:2])
    finally:
        batcher.close()
    assert time.monotonic() - started < 20


def test_alone_without_waiting_still_answers(embedder: E5Embedder) -> None:
    batcher = QueryBatcher(
        embedder, wait_s=0.0, max_batch=1, lanes=1, lane_setup=engine_on_one_core
    )
    try:
        vector = batcher.embed_query(QUESTIONS[0])
        rows = batcher.embed_queries(QUESTIONS[:3])  # max_batch 1: three batches, one request
    finally:
        batcher.close()
    assert np.allclose(vector, embedder.embed_queries([QUESTIONS[0]])[0], atol=1e-5)
    for row, question in zip(rows, QUESTIONS[:3], strict=True):
        assert np.allclose(row, embedder.embed_queries([question])[0], atol=1e-5)
    assert batcher.batches == 4


def test_closed_batcher_refuses() -> None:
    class _Never:
        dim = 4

    batcher = QueryBatcher(_Never(), lanes=1)  # type: ignore[arg-type]
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.embed_query("anything")


def test_settings_wire_the_batcher(make_services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    services: Services = make_services(query_batch_wait_ms=7.0, query_batch_max=4, query_lanes=2)
    batcher = services.retriever.embedder
    assert isinstance(batcher, QueryBatcher)
    assert (batcher.wait_s, batcher.max_batch, batcher.lanes) == (0.007, 4, 2)
    assert services.ingestor.embedder is not batcher  # passages go straight to the model
    direct: Services = make_services(tmp_path / "direct", query_lanes=0)
    assert not isinstance(direct.retriever.embedder, QueryBatcher)


def test_questions_answered_together_and_a_city_costs_one_request(
    sample_services: Services,
) -> None:
    retriever = sample_services.retriever
    original = retriever.embedder
    assert isinstance(original, QueryBatcher)  # the default: QUERY_LANES=2
    staff = Asker(Role.STAFF)
    # asked once before counting (an office's glossary words would be embedded with the first
    # question that uses them; the shipped ones come with the package), it costs its own texts
    sample_services.answerer.answer("비엔호아와 체결한 협약은 무엇인가요?", staff)
    counting = _Counting(original.inner)  # type: ignore[arg-type]
    retriever.embedder = QueryBatcher(counting, wait_s=0.05, lanes=1)
    try:
        # a question naming a partner city: as asked, and with the names spelt the other way,
        # in one engine call
        alone = sample_services.answerer.answer("비엔호아와 체결한 협약은 무엇인가요?", staff)
        assert [len(call) for call in counting.calls] == [2]
        counting.calls.clear()
        answers = _together(lambda q: sample_services.answerer.answer(q, staff), QUESTIONS[:4])
    finally:
        batcher, retriever.embedder = retriever.embedder, original
        batcher.close()  # type: ignore[attr-defined]
    assert alone.text
    assert all(getattr(a, "text", "") for a in answers), answers
    assert len(counting.calls) < 4, counting.calls  # embedded together

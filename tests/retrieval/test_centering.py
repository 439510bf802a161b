"""Language centring: cross-language questions find their passage; means ship, cache and refit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.retrieval.centering import (
    CACHE_NAME,
    PROBE,
    SHIPPED,
    LanguageMeans,
    LanguageNeutralEmbedder,
    load_means,
    reference_rows,
)
from bot.retrieval.embedder import E5Embedder

# (question, the passage in another language that answers it, passages in the question's language
# that do not)
CROSS_LANGUAGE = [
    (
        "리버턴 시장은 누구였나요?",
        "Gregory Dunmore, Mayor of the City of Riverton, signed the agreement on 3 May 2012.",
        [
            "뒤셀도르프 대표단의 숙박비는 1인당 4박까지 한빛시가 부담한다.",
            "화상회의는 회의 30분 전에 접속을 확인한다.",
        ],
    ),
    (
        "How many nights of hotel does Hanbit pay for?",
        "한빛시는 방문단의 숙박비를 1인당 4박까지 부담한다.",
        [
            "The video meeting room opens 30 minutes before the call.",
            "Riverton's mayor signed the agreement in 2012.",
        ],
    ),
    (
        "통역 요청서는 며칠 전까지 내야 하나요?",
        "Interpretation requests must be submitted at least ten working days before the event.",
        [
            "한빛시 청소년 교류단은 매년 여름에 출발한다.",
            "뒤셀도르프와의 자매결연은 2019년에 체결되었다.",
        ],
    ),
]


@pytest.fixture(scope="module")
def neutral(embedder: E5Embedder) -> LanguageNeutralEmbedder:
    return LanguageNeutralEmbedder(embedder, load_means(embedder, None), 1.0)


def _margin(embedder: object, question: str, answer: str, others: list[str]) -> float:
    vector = embedder.embed_query(question)  # type: ignore[attr-defined]
    scores = embedder.embed_passages([answer, *others]) @ vector  # type: ignore[attr-defined]
    return float(scores[0] - scores[1:].max())


@pytest.mark.parametrize(("question", "answer", "others"), CROSS_LANGUAGE)
def test_the_answer_in_another_language_beats_passages_in_the_questions_language(
    embedder: E5Embedder,
    neutral: LanguageNeutralEmbedder,
    question: str,
    answer: str,
    others: list[str],
) -> None:
    centred = _margin(neutral, question, answer, others)
    assert centred > 0.1
    assert centred > _margin(embedder, question, answer, others)


def test_vectors_stay_unit_length_and_same_language_ranking_survives(
    neutral: LanguageNeutralEmbedder,
) -> None:
    passages = neutral.embed_passages(
        ["The agreement is valid for five years.", "Lunch is served at noon."]
    )
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    scores = passages @ neutral.embed_query("How long is the agreement valid?")
    assert scores[0] > scores[1]
    assert neutral.embed_passages([]).shape == (0, neutral.dim)


def test_reference_set_is_parallel_in_every_language() -> None:
    rows = reference_rows()
    assert set(rows) == {"ko", "en", "de", "vi"}
    assert len({len(texts) for texts in rows.values()}) == 1
    assert len(rows["en"]) >= 200


def test_a_reference_row_missing_a_language_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "ref.tsv"
    broken.write_text("ko\ten\n안녕하세요\tHello\n감사합니다\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        reference_rows(broken)


def test_shipped_means_fit_the_default_embedder(embedder: E5Embedder) -> None:
    """If this fails, the reference file or the model changed: run scripts/build_language_means.py."""
    means = LanguageMeans.load(SHIPPED)
    assert means.fits(embedder.embed_passages(["x"])[0]) is False  # not any vector fits
    assert means.fits(embedder.embed_passages([PROBE])[0])


class _Rotated:
    """Another model, as far as the means are concerned: the e5 vectors with their axes reversed."""

    def __init__(self, inner: E5Embedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.queries = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)[::-1].copy()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)[:, ::-1].copy()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_another_embedder_gets_means_computed_once_and_cached(
    embedder: E5Embedder, tmp_path: Path
) -> None:
    other = _Rotated(embedder)
    first = load_means(other, tmp_path)
    computed = other.queries
    assert computed >= len(reference_rows()["en"])  # the reference set was embedded
    assert (tmp_path / CACHE_NAME).exists()

    again = load_means(other, tmp_path)
    assert other.queries == computed  # read from the cache, nothing embedded again
    assert np.allclose(first.passages["ko"], again.passages["ko"])
    shipped = LanguageMeans.load(SHIPPED)
    assert np.allclose(first.passages["ko"], shipped.passages["ko"][::-1], atol=1e-4)

"""Retrieval hit@1 of cross-language questions without and with the connected mode's translation.

    python benchmarks/translation.py QUESTIONS.jsonl [--knowledge DIR] [--data-dir DIR] [--json]

Each line of the question file: {"id", "question", "language", "expected_source",
"answer_contains", "answerable", "translation"} (`role` and `partner` optional, as in
`exchange-bot eval`). A question is cross-language when it is answerable and its language is not
its expected document's. The model is a fake at the HTTP seam (httpx's MockTransport under the
real OpenAI client): asked to translate a question into a language, it returns the line's
"translation" when that is in the language asked for (as a model would translate it), and
otherwise the question unchanged, which the bot treats as no translation. No answer is
generated: what is measured is the retrieval the answer would be written from, with the bot's own
code (`LLMAnswerer.gather`: the question's search, the translation's, merged) against the question's
search alone (`ExtractiveAnswerer.gather`). Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answering.llm import LLMAnswerer, build_chat_model  # noqa: E402
from bot.answering.translation import LANGUAGE_NAMES  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain import Asker  # noqa: E402
from bot.evaluation import EvalQuestion, load_questions  # noqa: E402
from bot.nlp import detect_language  # noqa: E402
from bot.services import Services, build_services  # noqa: E402

logging.disable(logging.WARNING)
NAMES_TO_CODES = {name: code for code, name in LANGUAGE_NAMES.items()}


class FakeTranslator:
    """An OpenAI-compatible endpoint that translates from the question file's "translation"."""

    def __init__(self, questions: list[EvalQuestion]) -> None:
        self.known = {q.question: q.translation for q in questions if q.translation}
        self.asked: Counter[str] = Counter()  # per target language
        self.supplied = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one chat completion."""
        body = json.loads(request.content)
        system, question = body["messages"][0]["content"], body["messages"][-1]["content"]
        target = next((code for name, code in NAMES_TO_CODES.items() if name in system), "")
        self.asked[target] += 1
        translation = self.known.get(question, "")
        if translation and detect_language(translation) == target:
            self.supplied += 1
            reply = translation
        else:
            reply = question  # no translation into that language: the bot searches the question
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 1,
                "model": "fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
            },
        )


def stored_source(services: Services, source: str) -> str:
    """Return the stored name of an expected source (a question file may name the text
    extracted from a binary file, `x.pdf.txt`, for the ingested `x.pdf`)."""
    if services.store.document(source) is None and source.endswith(".txt"):
        stripped = source.removesuffix(".txt")
        if services.store.document(stripped) is not None:
            return stripped
    return source


def document_language(services: Services, source: str) -> str:
    """Return a stored document's language: its metadata's, else most of its chunks'."""
    meta = services.store.document(source)
    if meta is None:
        return ""
    if meta.language:
        return meta.language
    chunks = services.store.chunks(services.store.chunk_ids(source)).values()
    counts = Counter(c.language for c in chunks)
    return counts.most_common(1)[0][0] if counts else ""


def main() -> int:
    """Measure and print Markdown (and the figures as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument(
        "--data-dir", type=Path, help="a data dir to keep the ingested store in (default: scratch)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    work = Path(tempfile.mkdtemp(prefix="exchange-translation-"))
    data = args.data_dir or work / "data"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_data_dir=data,
        partners_file=ROOT / "knowledge" / "partners.yaml",
        openai_base_url="http://llm.invalid/v1",
        openai_max_retries=0,
    )
    fake = FakeTranslator(questions)
    model = build_chat_model(
        settings.openai_base_url,
        "sk-bench",
        settings.openai_model,
        settings.translation_timeout_s,
        0,
        http_client=httpx.Client(transport=httpx.MockTransport(fake.handle)),
    )
    services = build_services(settings, chat_model=model, translation_model=model)
    try:
        report = services.ingestor.ingest([args.knowledge])  # incremental: a kept store is quick
        if report.failed:
            raise SystemExit(f"could not ingest: {report.failed}")
        answerer = services.answerer
        assert isinstance(answerer, LLMAnswerer)
        corpus = answerer.corpus.get() if answerer.corpus else ""
        rows = []
        for q in questions:
            if not q.answerable or not q.expected_source:
                continue
            expected = stored_source(services, q.expected_source)
            doc_language = document_language(services, expected)
            if not doc_language or doc_language == q.language:
                continue
            asker = Asker(q.role, partner=q.partner)
            before = fake.supplied
            alone, _ = services.extractive.gather(q.question, asker)
            merged, _ = answerer.gather(q.question, asker)
            rows.append(
                {
                    "id": q.id,
                    "language": q.language,
                    "document_language": doc_language,
                    "translated": fake.supplied > before,
                    "without": bool(alone.hits) and alone.hits[0].chunk.doc.source == expected,
                    "with": bool(merged.hits) and merged.hits[0].chunk.doc.source == expected,
                }
            )
    finally:
        services.close()
        shutil.rmtree(work, ignore_errors=True)

    def rate(subset: list[dict[str, Any]], key: str) -> str:
        return f"{sum(r[key] for r in subset) / len(subset):.3f}" if subset else "-"

    translated = [r for r in rows if r["translated"]]
    figures = {
        "questions": len(questions),
        "cross_language": len(rows),
        "translated": len(translated),
        "corpus_language": corpus,
        "hit@1_without": rate(rows, "without"),
        "hit@1_with": rate(rows, "with"),
        "translated_hit@1_without": rate(translated, "without"),
        "translated_hit@1_with": rate(translated, "with"),
    }
    print(
        f"# Translation step — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"Python {platform.python_version()}\n"
    )
    print(
        f"{args.questions.name}: {len(questions)} questions, {len(rows)} answerable across "
        f"languages; documents mostly `{corpus}`; {len(translated)} translated (the others are "
        f"in the documents' language already, or have no translation into it)\n"
    )
    print("| questions | n | hit@1 without translation | hit@1 with translation |")
    print("|---|---|---|---|")
    print(
        f"| all across languages | {len(rows)} | {figures['hit@1_without']} | {figures['hit@1_with']} |"
    )
    print(
        f"| of them translated | {len(translated)} | {figures['translated_hit@1_without']} "
        f"| {figures['translated_hit@1_with']} |"
    )
    by_language = sorted({r["language"] for r in rows})
    for lang in by_language:
        subset = [r for r in rows if r["language"] == lang]
        print(
            f"| asked in {lang} | {len(subset)} | {rate(subset, 'without')} | {rate(subset, 'with')} |"
        )
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

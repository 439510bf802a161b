"""The LLM answerer: any OpenAI-compatible endpoint via langchain, extractive answer as fallback."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.answering.extractive import (
    Evidence,
    EvidenceJudge,
    ExtractiveAnswerer,
    citations_for,
    decline,
)
from bot.answering.translation import LANGUAGE_NAMES, CorpusLanguage, QueryTranslator, merge
from bot.domain import Answer, Asker, Hit, readable_heading
from bot.knowledge.untrusted import without_instructions
from bot.nlp import detect_language
from bot.office import Office
from bot.retrieval.hybrid import Retrieval

log = logging.getLogger(__name__)

NO_ANSWER = "NO_ANSWER"
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def prompts_dir() -> Traversable:
    """Return the folder of the prompt templates: the checkout's when the code runs from one,
    else the installed bot.prompts."""
    checkout = Path(__file__).resolve().parents[2]
    # a checkout on sys.path beside an editable install of another checkout (a shared virtual
    # environment) must read its own prompts, not the ones the install maps bot.prompts to
    if (checkout / "pyproject.toml").is_file() and (checkout / "prompts").is_dir():
        return checkout / "prompts"
    try:
        # pyproject.toml installs the repository's prompts/ folder as the package bot.prompts
        return resources.files("bot.prompts")
    except ModuleNotFoundError:
        # the checkout itself on sys.path (PYTHONPATH=.): prompts/ is next to bot/, not inside it
        return Path(__file__).resolve().parents[2] / "prompts"


def load_prompts(directory: Traversable | None = None) -> tuple[str, str]:
    """Read the system and user prompt templates (once, at start-up)."""
    directory = directory or prompts_dir()
    return (
        (directory / "answer_system.txt").read_text("utf-8"),
        (directory / "answer_user.txt").read_text("utf-8"),
    )


def load_translation_prompt(directory: Traversable | None = None) -> str:
    """Read the prompt of the question's translation (once, at start-up)."""
    return ((directory or prompts_dir()) / "translate_system.txt").read_text("utf-8")


def format_context(hits: list[Hit]) -> str:
    """Render the retrieved chunks as numbered, fenced documents."""
    blocks = []
    for i, hit in enumerate(hits, start=1):
        c = hit.chunk
        heading = readable_heading(c.doc.kind, c.heading)
        head = (c.doc.title + (f" — {heading}" if heading else "")).replace('"', "'")
        # the fence is closed by us only: strip look-alikes a document might carry; a sentence
        # that instructs an assistant is not shown at all (the prompt says to ignore them too)
        body = without_instructions(c).replace("</document>", "</ document>")
        blocks.append(f'<document n="{i}" title="{head}">\n{body}\n</document>')
    return "\n".join(blocks)


def clean_citations(text: str, n_sources: int) -> str:
    """Drop citation numbers that do not name a provided document."""

    def keep(match: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        valid = [str(n) for n in nums if 1 <= n <= n_sources]
        return f"[{', '.join(valid)}]" if valid else ""

    return re.sub(r"\s+(?=[.,;!?。])", "", _CITE.sub(keep, text)).strip()


@runtime_checkable
class StreamingAnswerer(Protocol):
    """An answerer that can show its answer while it is written."""

    def answer(self, question: str, asker: Asker) -> Answer:
        """Answer one question."""
        ...

    def answer_streaming(
        self, question: str, asker: Asker, on_text: Callable[[str], None]
    ) -> Answer:
        """Answer one question, calling `on_text` with the answer so far as it grows."""
        ...


class LLMAnswerer:
    """Generates the answer from retrieved context; any failure falls back to the extractive answer.

    With a translator, a question in another language than most documents is also searched in
    theirs (connected mode across languages), and the two searches are merged.
    """

    def __init__(
        self,
        chat_model: Any,
        extractive: ExtractiveAnswerer,
        prompts: tuple[str, str],
        translator: QueryTranslator | None = None,
        corpus: CorpusLanguage | None = None,
    ) -> None:
        self.chat_model = chat_model
        self.extractive = extractive
        self.system_prompt, self.user_prompt = prompts
        self.translator = translator
        self.corpus = corpus

    @property
    def office(self) -> Office:
        """Share the extractive answerer's office (the prompt names it; declines send to it)."""
        return self.extractive.office

    def system_message(self, language: str) -> str:
        """Return the system prompt for a question in this language, naming the office."""
        return self.system_prompt.format(
            language_name=LANGUAGE_NAMES.get(language, "English"), office=self.office.name("en")
        )

    @property
    def judge(self) -> EvidenceJudge:
        """Share the extractive answerer's evidence judge."""
        return self.extractive.judge

    def gather(self, question: str, asker: Asker) -> tuple[Retrieval, Evidence]:
        """Retrieve and judge the passages for a question, in its language and, when most
        documents are in another one, translated into theirs; the two searches merged."""
        retrieval, evidence = self.extractive.gather(question, asker)
        target = self.corpus.get() if self.corpus is not None else ""
        if self.translator is None or not target or detect_language(question) == target:
            return retrieval, evidence
        translation = self.translator.translate(question, target)
        if translation is None:  # logged by the translator: the question alone is searched
            return retrieval, evidence
        other, other_evidence = self.extractive.gather(translation, asker)
        merged = merge(retrieval, other, self.extractive.top_k)
        # grounded by either search: each was judged on its own words
        judged = [e for e in (evidence, other_evidence) if e.grounded] or [evidence, other_evidence]
        # the judge's quotes are numbered in its own search's passages, not the merged ones: a
        # fallback answer chooses them again from what it cites
        return merged, replace(max(judged, key=lambda e: e.best_dense), quoted=None)

    def answer(self, question: str, asker: Asker) -> Answer:
        """Answer with the model; decline without calling it when retrieval found nothing near."""
        return self._answer(question, asker, None)

    def answer_streaming(
        self, question: str, asker: Asker, on_text: Callable[[str], None]
    ) -> Answer:
        """Answer as `answer` does, calling `on_text` with the answer written so far as the
        model writes it. A stream that breaks after text was shown gives the extractive answer,
        which says so."""
        return self._answer(question, asker, on_text)

    def _answer(self, question: str, asker: Asker, on_text: Callable[[str], None] | None) -> Answer:
        started = time.perf_counter()
        language = detect_language(question)
        retrieval, evidence = self.gather(question, asker)
        if not retrieval.hits or (
            not evidence.grounded and evidence.best_dense < self.judge.min_relevance - 0.05
        ):
            return decline(question, language, started, evidence, self.office)
        messages = [
            ("system", self.system_message(language)),
            (
                "human",
                self.user_prompt.format(context=format_context(retrieval.hits), question=question),
            ),
        ]
        citations = citations_for(retrieval.hits)
        shown: list[str] = []  # what on_text was last given: a broken stream was seen
        try:
            if on_text is None:
                reply = self.chat_model.invoke(messages)
                content = reply.content if isinstance(reply.content, str) else str(reply.content)
            else:
                content = self._stream(messages, len(citations), on_text, shown)
        except (
            Exception
        ) as exc:  # timeouts, 5xx, refused connections: the office still gets an answer
            if shown:
                log.warning(
                    "LLM stream broke off after %d characters (%s); using the extractive answer",
                    len(shown[-1]),
                    type(exc).__name__,
                )
            else:
                log.warning("LLM call failed (%s); using the extractive answer", type(exc).__name__)
            # the same passages, quoted: no second retrieval
            fallback = self.extractive.respond(question, retrieval, evidence, started)
            extra = {**fallback.extra, "llm_error": type(exc).__name__}
            if not shown:
                return replace(fallback, mode="extractive-fallback", extra=extra)
            # the person saw part of the model's answer: the message says why it changed
            notice = self.office.t("answer_interrupted", language)
            return replace(
                fallback,
                text=f"{notice}\n\n{fallback.text}",
                mode="extractive-fallback",
                extra={**extra, "interrupted": True},
            )
        content = content.strip()
        if not content or content.startswith(NO_ANSWER):
            return decline(question, language, started, evidence, self.office)
        return Answer(
            question=question,
            text=clean_citations(content, len(citations)),
            citations=citations,
            grounded=True,
            language=language,
            latency_ms=(time.perf_counter() - started) * 1000,
            mode="llm",
        )

    def _stream(
        self,
        messages: list[tuple[str, str]],
        n_sources: int,
        on_text: Callable[[str], None],
        shown: list[str],
    ) -> str:
        """Stream the model's answer, showing it as it grows; return all of it."""
        parts: list[str] = []
        for chunk in self.chat_model.stream(messages):
            piece = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
            if not piece:
                continue
            parts.append(piece)
            text = "".join(parts).strip()
            # never show what may still become NO_ANSWER (a decline is worded by us)
            if NO_ANSWER.startswith(text) or text.startswith(NO_ANSWER):
                continue
            cleaned = clean_citations(text, n_sources)
            if cleaned and (not shown or cleaned != shown[-1]):
                shown[:] = [cleaned]
                on_text(cleaned)
        return "".join(parts)


def build_chat_model(
    base_url: str | None,
    api_key: str | None,
    model: str,
    timeout: float,
    max_retries: int,
    http_client: Any = None,
) -> Any:
    """Build langchain's ChatOpenAI for any OpenAI-compatible endpoint."""
    from langchain_openai import ChatOpenAI

    kwargs: dict[str, Any] = {
        "model": model,
        "api_key": api_key or "not-needed",  # local servers (vLLM, Ollama) accept any key
        "timeout": timeout,
        "max_retries": max_retries,
        "temperature": 0,
    }
    if base_url:
        kwargs["base_url"] = base_url
    if http_client is not None:
        kwargs["http_client"] = http_client
    return ChatOpenAI(**kwargs)

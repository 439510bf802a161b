"""The LLM answerer: any OpenAI-compatible endpoint via langchain, extractive answer as fallback."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bot.answering.extractive import (
    EvidenceJudge,
    ExtractiveAnswerer,
    citations_for,
    decline,
)
from bot.domain import Answer, Asker, Hit, readable_heading
from bot.nlp import detect_language
from bot.office import Office

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "de": "German", "vi": "Vietnamese"}
NO_ANSWER = "NO_ANSWER"
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def prompts_dir() -> Traversable:
    """Return the folder of the prompt templates: the installed bot.prompts, else the checkout's."""
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


def format_context(hits: list[Hit]) -> str:
    """Render the retrieved chunks as numbered, fenced documents."""
    blocks = []
    for i, hit in enumerate(hits, start=1):
        c = hit.chunk
        heading = readable_heading(c.doc.kind, c.heading)
        head = (c.doc.title + (f" — {heading}" if heading else "")).replace('"', "'")
        # the fence is closed by us only: strip look-alikes a document might carry
        body = c.text.replace("</document>", "</ document>")
        blocks.append(f'<document n="{i}" title="{head}">\n{body}\n</document>')
    return "\n".join(blocks)


def clean_citations(text: str, n_sources: int) -> str:
    """Drop citation numbers that do not name a provided document."""

    def keep(match: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        valid = [str(n) for n in nums if 1 <= n <= n_sources]
        return f"[{', '.join(valid)}]" if valid else ""

    return re.sub(r"\s+(?=[.,;!?。])", "", _CITE.sub(keep, text)).strip()


class LLMAnswerer:
    """Generates the answer from retrieved context; any failure falls back to the extractive answer."""

    def __init__(
        self, chat_model: Any, extractive: ExtractiveAnswerer, prompts: tuple[str, str]
    ) -> None:
        self.chat_model = chat_model
        self.extractive = extractive
        self.system_prompt, self.user_prompt = prompts

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

    def answer(self, question: str, asker: Asker) -> Answer:
        """Answer with the model; decline without calling it when retrieval found nothing near."""
        started = time.perf_counter()
        language = detect_language(question)
        retrieval, evidence = self.extractive.gather(question, asker)
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
        try:
            reply = self.chat_model.invoke(messages)
            content = reply.content if isinstance(reply.content, str) else str(reply.content)
        except (
            Exception
        ) as exc:  # timeouts, 5xx, refused connections: the office still gets an answer
            log.warning("LLM call failed (%s); using the extractive answer", type(exc).__name__)
            # the same passages, quoted: no second retrieval
            fallback = self.extractive.respond(question, retrieval, evidence, started)
            extra = {**fallback.extra, "llm_error": type(exc).__name__}
            return replace(fallback, mode="extractive-fallback", extra=extra)
        content = content.strip()
        if not content or content.startswith(NO_ANSWER):
            return decline(question, language, started, evidence, self.office)
        citations = citations_for(retrieval.hits)
        return Answer(
            question=question,
            text=clean_citations(content, len(citations)),
            citations=citations,
            grounded=True,
            language=language,
            latency_ms=(time.perf_counter() - started) * 1000,
            mode="llm",
        )


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

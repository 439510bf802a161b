"""Documents are untrusted text: a sentence in one that speaks to an assistant instead of to
people (a planted "ignore all previous instructions ...") is never quoted, never finds a passage
and never reaches a language model as part of a document."""

from __future__ import annotations

import re
from functools import lru_cache

from bot.domain import Chunk

# a sentence that speaks to an assistant instead of to people: documents are untrusted text,
# and an answer never quotes what a document tells the bot to do
_INSTRUCTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?)|"
    r"(?:system|developer) (?:note|prompt|message|instruction)|"
    r"(?:note|message|instructions?) (?:for|to) (?:any |the )?(?:ai|assistant|chatbot|bot|llm|model)|"
    r"\byou are now\b|jailbreak|"
    r"when (?:anyone|someone|a user|users|people) asks?\b.{0,80}\b(?:reveal|disclose|tell|say|answer)|"
    r"이전\s?(?:의\s)?(?:지시|명령|지침|프롬프트).{0,10}무시|(?:ai|인공지능|챗봇|어시스턴트)에게\s|"
    r"ignorier(?:e|en sie) .{0,30}anweisungen|(?:hinweis|nachricht) (?:an|für) (?:die |den )?(?:ki|assistent)|"
    r"bỏ qua .{0,30}(?:hướng dẫn|chỉ dẫn|chỉ thị)",
    re.I,
)
# what the sentences around such a one say when they belong to it
_ORDER = re.compile(
    r"\byou\b|\byour\b|maintenance mode|reveal|disclose|tell the user|whoever asks|treat this|state that|"
    r"visibility|confidential|공개|알려|답하|출력|\bdu\b|\bsie sind\b|offenleg|preisgeb|"
    r"hãy|tiết lộ|công khai",
    re.I,
)


def instructions(sentences: tuple[str, ...] | list[str]) -> frozenset[int]:
    """Return the positions of sentences that instruct an assistant: those that match, and the
    sentences beside them that go on giving orders (a planted note is cut into several).

    Kept per passage (a chunk's sentences): every question looks at the passages it finds."""
    return _instructions(tuple(sentences))


@lru_cache(maxsize=8192)
def _instructions(sentences: tuple[str, ...]) -> frozenset[int]:
    found = {i for i, s in enumerate(sentences) if _INSTRUCTION.search(s)}
    if not found:
        return frozenset()
    near = {
        i
        for i, s in enumerate(sentences)
        if i not in found and _ORDER.search(s) and any(abs(i - j) <= 4 for j in found)
    }
    return frozenset(found | near)


def without_instructions(chunk: Chunk, marker: str = "[…]") -> str:
    """Return a chunk's text with the sentences that instruct an assistant replaced by a marker
    (what a language model is shown of a document)."""
    text = chunk.text
    for pos in sorted(instructions(chunk.sentences)):
        text = text.replace(chunk.sentences[pos], marker)
    return text

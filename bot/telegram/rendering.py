"""Telegram rendering: HTML-escaped answers with a numbered source list, split under 4,096 characters."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bot.domain import Answer
from bot.i18n import t

TELEGRAM_LIMIT = 4096
_CITED = re.compile(r"\[([\d,\s]+)\]")
_TAG = re.compile(r"<[^>]+>")


def render_answer(answer: Answer, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Return the HTML messages for an answer: the text, then the sources it cites."""
    blocks = [html.escape(p) for p in answer.text.split("\n\n") if p.strip()]
    if answer.cited:
        lines = [f"<b>{html.escape(t('sources', answer.language))}</b>"]
        for c in answer.cited:
            where = f" — {html.escape(c.shown_heading)}" if c.shown_heading else ""
            lines.append(f"[{c.n}] <i>{html.escape(c.title)}</i>{where}")
        blocks.append("\n".join(lines))
    return split_html(blocks, limit)


def render_sources(
    question: str, sources: Sequence[dict[str, object]], lang: str, excerpt: int = 300
) -> list[str]:
    """Return /sources messages: each document's title, heading, path and a short excerpt."""
    blocks = [html.escape(t("sources_header", lang, question=_shorten(question, 200)))]
    for src in sources:
        text = _shorten(" ".join(str(src.get("text", "")).split()), excerpt)
        heading = f" — {html.escape(str(src['heading']))}" if src.get("heading") else ""
        blocks.append(
            f"[{src['n']}] <b>{html.escape(str(src['title']))}</b>{heading}\n"
            f"<code>{html.escape(str(src['source']))}</code>\n{html.escape(text)}"
        )
    return split_html(blocks)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_html(blocks: Sequence[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack balanced HTML blocks into messages under `limit`; never cut inside a tag or entity.

    A block too long for one message has its markup dropped and is cut at whitespace, so a
    split can never leave an unclosed tag or half an `&amp;`.
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block] if len(block) <= limit else _cut_plain(block, limit)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _cut_plain(block: str, limit: int) -> list[str]:
    """Cut an over-long block into plain escaped pieces at whitespace (or anywhere, if none)."""
    text = html.unescape(_TAG.sub("", block))
    pieces: list[str] = []
    while text:
        if len(html.escape(text)) <= limit:
            pieces.append(html.escape(text))
            break
        # find the longest prefix whose escaped form fits, preferring a whitespace boundary
        lo, hi = 1, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(html.escape(text[:mid])) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = text.rfind(" ", 0, lo)
        cut = cut if cut > lo // 2 else lo
        pieces.append(html.escape(text[:cut].rstrip()))
        text = text[cut:].lstrip()
    return pieces

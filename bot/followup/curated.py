"""Curated answers: a staff answer becomes a Q&A document, indexed so a paraphrase finds it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from bot.domain import Visibility
from bot.followup.escalation import EscalationItem, Status
from bot.knowledge.ingest import Ingestor, IngestReport

log = logging.getLogger(__name__)

SCOPES = ("public", "webinar", "internal")
KIND = "qa"
# The title says whose answer this is wherever it is cited (it is document text, in the
# document's language, so it lives here rather than in the interface strings).
TITLE_PREFIX = {
    "en": "Answer from the international-exchange office",
    "ko": "국제교류팀 답변",
    "de": "Antwort des Büros für internationalen Austausch",
    "vi": "Trả lời của văn phòng hợp tác quốc tế",
}
_LANG = re.compile(r"^[a-z]{2}$")
# Lines the Markdown loader would read as structure: a heading, or a code fence that hides headings.
_STRUCTURE = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|```)")


def one_line(text: str) -> str:
    """Collapse all whitespace, newlines included, to single spaces."""
    return " ".join(text.split())


def neutralise_body(text: str) -> str:
    """Return text whose lines the Markdown loader cannot read as headings or code fences."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        # a backslash is Markdown's own escape: renderers show the character, our loader sees text
        lines.append(_STRUCTURE.sub(lambda m: m.group(1) + "\\" + m.group(2), line))
    return "\n".join(lines).strip()


def render_document(
    item: EscalationItem, visibility: Visibility, webinar: str, question: str | None = None
) -> str:
    """Return the Markdown Q&A document of an answered item.

    The question is the heading of the answer's section: the chunk's embedding and keyword
    terms then carry the question (so a paraphrase retrieves it) while its sentences are the
    answer's (so the extractive answerer quotes the answer, not the question back). Attendee
    text is reduced to one line and staff text is neutralised line by line; the front matter is
    written by a YAML serializer with no line folding, so no input can end it early or add keys.
    `question` is the wording staff want shown instead of the attendee's own.
    """
    language = item.language if _LANG.match(item.language or "") else ""
    question = one_line(item.question if question is None else question)
    if not question:
        raise ValueError("an empty question cannot become a curated answer")
    prefix = TITLE_PREFIX.get(language, TITLE_PREFIX["en"])
    front: dict[str, str] = {
        # the attendee's words stay out of the title: only the answer is ever shown to others
        "title": f"{prefix} (#{item.id})",
        "kind": KIND,
        "language": language,
        "visibility": visibility.value,
        "date": item.answered_at.date().isoformat() if item.answered_at else "",
    }
    if webinar:
        front["webinar"] = webinar
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1_000_000)
    answer = neutralise_body(item.staff_answer or "")
    return f"---\n{header}---\n\n## {question}\n\n{answer}\n"


class CuratedAnswers:
    """Writes staff answers as Q&A documents under `<data_dir>/curated` and indexes them."""

    def __init__(self, data_dir: Path, ingestor: Ingestor) -> None:
        self.folder = Path(data_dir) / "curated"
        self.ingestor = ingestor

    def path_of(self, item_id: int) -> Path:
        """Return where an item's Q&A document is written."""
        return self.folder / f"qa-{item_id}.md"

    def publish(
        self,
        item: EscalationItem,
        visibility: str,
        webinar_code: str | None = None,
        question: str | None = None,
    ) -> IngestReport:
        """Publish an answered item as a document for 'public', 'webinar' or 'internal' readers.

        'public' is for everyone, 'webinar' for that webinar's attendees (and staff), 'internal'
        for staff only. Publishing the same item again (another scope, a corrected answer)
        replaces its document. The question is shown to whoever the scope lets see the answer
        (it is the title and heading of citations), so `question` lets staff publish a reworded
        one instead of the attendee's own words (names, contact details).
        """
        if visibility not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if item.status != Status.ANSWERED.value or not (item.staff_answer or "").strip():
            raise ValueError("only an answered question can become a curated answer")
        webinar = ""
        vis = Visibility.INTERNAL if visibility == "internal" else Visibility.PUBLIC
        if visibility == "webinar":
            webinar = webinar_code or item.webinar or ""
            if not webinar:
                raise ValueError("a webinar-scoped answer needs a webinar")
        path = self.path_of(item.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_document(item, vis, webinar, question), "utf-8")
        # the overrides make the metadata exact whatever the file says
        overrides = {"visibility": vis.value, "webinar": webinar, "partner": ""}
        report = self.ingestor.ingest([path], vis, None, overrides)
        log.info(
            "curated answer %s published (%s%s): %d chunks",
            item.id,
            visibility,
            f" {webinar}" if webinar else "",
            report.chunks,
        )
        return report

"""The after-webinar report for staff: figures, a Markdown summary, a CSV of questions, a chart."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from sqlalchemy import select

from bot.followup.escalation import EscalationRow, Status
from bot.followup.feedback import QuestionRow
from bot.followup.survey import SurveyService
from bot.followup.webinars import AttendeeRow, WebinarError, WebinarRow
from bot.storage.db import Database, utcnow

OUTCOMES = ("bot", "staff", "open", "dismissed")
CSV_FIELDS = ("date", "user", "language", "question", "outcome", "vote", "cited_documents")
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A spreadsheet runs a cell that starts like this as a formula; attendee text must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


class TermAnalyzer(Protocol):
    """What the report needs of `bot.nlp.Analyzer`: keyword terms of a text."""

    def terms(self, text: str, language: str | None = None, stem: bool = True) -> list[str]:
        """Return the keyword terms of a text."""
        ...


@dataclass(frozen=True)
class Report:
    """A webinar report: the figures, and the three files staff receive."""

    code: str
    title: str
    figures: dict[str, Any]
    markdown: str
    csv: str
    chart_png: bytes


def pseudonym(user_id: int, key: bytes) -> str:
    """Return a short keyed hash of a user id (a bare hash of a Telegram id is easy to reverse)."""
    return "u-" + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:10]


def cited_titles(row: QuestionRow) -> list[str]:
    """Return the distinct titles of the documents an answer cites ([n] marks; all if none)."""
    if not row.grounded:
        return []
    used = {int(n) for group in _CITE.findall(row.answer or "") for n in group.split(",")}
    sources = [s for s in row.sources if int(str(s.get("n", 0))) in used] or list(row.sources)
    titles: list[str] = []
    for source in sources:
        title = str(source.get("title", ""))
        if title and title not in titles:
            titles.append(title)
    return titles


def outcome(row: QuestionRow, escalation: EscalationRow | None) -> str:
    """Classify a question: the escalation decides when there is one, otherwise the bot's answer."""
    if escalation is not None:
        return {
            Status.ANSWERED.value: "staff",
            Status.DISMISSED.value: "dismissed",
        }.get(escalation.status, "open")
    # a question the bot declined and nobody queued is still unanswered
    return "bot" if row.grounded else "open"


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _csv_cell(text: str) -> str:
    text = " ".join(text.split())
    return "'" + text if text.startswith(_FORMULA_START) else text


def md_escape(text: str) -> str:
    """Return text that Markdown shows literally, on one line (no links, images or tables)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def build_report(
    code: str,
    db: Database,
    analyzer: TermAnalyzer,
    *,
    tz: tzinfo = UTC,
    pseudonym_key: bytes | None = None,
    top: int = 5,
    topics: int = 10,
    now: datetime | None = None,
) -> Report:
    """Build a webinar's report from the question log, the queue, attendees and the survey.

    The webinar's questions are the logged questions tagged with its code. A question's outcome
    is its escalation's status when it was queued (answered → staff, dismissed, open), else bot
    when the bot answered it, else open. Unanswered topics are the commonest terms of open and
    dismissed questions, each question counting a term once. Days are counted in `tz` (the
    office's zone). Users appear under a keyed hash; without a key each report draws its own.
    """
    key = pseudonym_key or secrets.token_bytes(16)
    with db.session() as s:
        webinar = s.get(WebinarRow, code)
        if webinar is None:
            raise WebinarError("webinar_unknown")
        title, webinar_date = webinar.title, webinar.date
        attendee_ids = select(AttendeeRow.user_id).where(AttendeeRow.webinar == code)
        attendees = len(list(s.scalars(attendee_ids)))
        rows = list(
            s.scalars(
                select(QuestionRow)
                .where(QuestionRow.webinar == code)
                .order_by(QuestionRow.created_at, QuestionRow.id)
            )
        )
        ids = [r.id for r in rows]
        escalations = (
            {
                e.answer_id: e
                for e in s.scalars(select(EscalationRow).where(EscalationRow.answer_id.in_(ids)))
            }
            if ids
            else {}
        )
    survey = SurveyService(db).results(code)

    outcomes = [outcome(r, escalations.get(r.id)) for r in rows]
    counts = Counter(outcomes)
    up = sum(1 for r in rows if r.vote == 1)
    down = sum(1 for r in rows if r.vote == -1)
    cited: Counter[str] = Counter()
    for r in rows:
        cited.update(cited_titles(r))
    topic_counts: Counter[str] = Counter()
    for r, o in zip(rows, outcomes, strict=True):
        if o in ("open", "dismissed"):
            # readable words for people, not search stems ("shuttle", not "shuttl")
            topic_counts.update(set(analyzer.terms(r.question, stem=False)))
    per_day = _per_day(rows, outcomes, tz)

    figures: dict[str, Any] = {
        "webinar": code,
        "title": title,
        "attendees": attendees,
        "askers": len({r.user_id for r in rows}),
        "questions": len(rows),
        "answered_by_bot": counts["bot"],
        "answered_by_staff": counts["staff"],
        "open": counts["open"],
        "dismissed": counts["dismissed"],
        "thumbs_up": up,
        "thumbs_down": down,
        "thumbs_up_rate": _percent(up, up + down),  # percent of votes
        "survey_responses": survey.responses,
        "satisfaction": dict(survey.distribution),
        "satisfaction_pct": survey.satisfied_pct,  # percent of responses scoring 4 or 5
        "satisfaction_avg": survey.average,
        "most_cited": _top(cited, top),
        "unanswered_topics": _top(topic_counts, topics),
        "questions_per_day": {d.isoformat(): sum(c.values()) for d, c in per_day.items()},
    }
    generated = (now or utcnow()).astimezone(tz)
    return Report(
        code=code,
        title=title,
        figures=figures,
        markdown=_markdown(figures, webinar_date, generated, survey.comments),
        csv=_csv(rows, outcomes, key, tz),
        chart_png=_chart(per_day, code),
    )


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    # ties broken alphabetically, so the same data always gives the same report
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _per_day(rows: list[QuestionRow], outcomes: list[str], tz: tzinfo) -> dict[date, Counter[str]]:
    """Count questions per local day and outcome, with empty days between the first and last."""
    days: dict[date, Counter[str]] = {}
    for r, o in zip(rows, outcomes, strict=True):
        days.setdefault(r.created_at.astimezone(tz).date(), Counter())[o] += 1
    if not days:
        return {}
    first, last = min(days), max(days)
    span = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    return {day: days.get(day, Counter()) for day in span}


def _csv(rows: list[QuestionRow], outcomes: list[str], key: bytes, tz: tzinfo) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for r, o in zip(rows, outcomes, strict=True):
        vote = {1: "up", -1: "down"}.get(r.vote or 0, "")
        writer.writerow(
            [
                r.created_at.astimezone(tz).isoformat(timespec="minutes"),
                pseudonym(r.user_id, key),
                r.language,
                _csv_cell(r.question),
                o,
                vote,
                "; ".join(_csv_cell(t) for t in cited_titles(r)),
            ]
        )
    return buf.getvalue()


def _fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _markdown(
    figures: dict[str, Any], webinar_date: date, generated: datetime, comments: tuple[str, ...]
) -> str:
    f = figures
    lines = [
        f"# Webinar report: {md_escape(f['title'])}",
        "",
        f"Code `{f['webinar']}` · webinar date {webinar_date.isoformat()} · "
        f"generated {generated.isoformat(timespec='minutes')}",
        "",
        "## Figures",
        "",
        "| | |",
        "|---|---:|",
        f"| Attendees | {f['attendees']} |",
        f"| Attendees who asked | {f['askers']} |",
        f"| Questions | {f['questions']} |",
        f"| Answered by the bot | {f['answered_by_bot']} |",
        f"| Answered by staff | {f['answered_by_staff']} |",
        f"| Open | {f['open']} |",
        f"| Dismissed | {f['dismissed']} |",
        f"| 👍 / 👎 | {f['thumbs_up']} / {f['thumbs_down']} |",
        f"| 👍 rate | {_fmt_pct(f['thumbs_up_rate'])} |",
        f"| Survey responses | {f['survey_responses']} |",
        f"| Satisfied (4–5) | {_fmt_pct(f['satisfaction_pct'])} |",
        f"| Average score | {'–' if f['satisfaction_avg'] is None else f['satisfaction_avg']} |",
        "",
        "## Satisfaction",
        "",
        "| Score | Responses |",
        "|---:|---:|",
        *(f"| {score} | {n} |" for score, n in sorted(f["satisfaction"].items(), reverse=True)),
        "",
        "## Most cited documents",
        "",
        *(
            [f"{i}. {md_escape(t)} ({n})" for i, (t, n) in enumerate(f["most_cited"], 1)]
            or ["None."]
        ),
        "",
        "## Unanswered topics",
        "",
        ", ".join(f"{md_escape(t)} ({n})" for t, n in f["unanswered_topics"]) or "None.",
        "",
        "## Questions per day",
        "",
        *([f"- {d}: {n}" for d, n in f["questions_per_day"].items()] or ["None."]),
        "",
    ]
    if comments:
        lines += ["## Survey comments", "", *(f"> {md_escape(c)}\n" for c in comments)]
    return "\n".join(lines).rstrip() + "\n"


def _chart(per_day: dict[date, Counter[str]], code: str) -> bytes:
    """Return a PNG bar chart of questions per day, stacked by outcome (Agg: no display needed)."""
    # the Figure API with an explicit Agg canvas touches no global pyplot state or backend
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [d.strftime("%m-%d") for d in per_day]
    x = list(range(len(labels)))
    bottom = [0] * len(labels)
    series = (
        ("answered by the bot", ("bot",), "#4c9a5d"),
        ("answered by staff", ("staff",), "#3b6ea5"),
        ("open or dismissed", ("open", "dismissed"), "#c8553d"),
    )
    for label, keys, color in series:
        values = [sum(c[k] for k in keys) for c in per_day.values()]
        if any(values):
            ax.bar(x, values, bottom=bottom, color=color, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if not per_day:
        ax.text(0.5, 0.5, "no questions", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(x, labels, rotation=45 if len(labels) > 10 else 0)
    ax.set_ylabel("questions")
    ax.set_title(f"Questions per day ({code})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if any(bottom):
        ax.set_ylim(0, max(bottom) * 1.3 + 0.5)  # headroom: the legend row never covers a bar
        ax.legend(loc="upper left", ncol=3, fontsize="small", frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()

"""The webinar report on a known fixture: exact figures, the CSV parsed back, a PNG chart."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.followup.escalation import EscalationService
from bot.followup.feedback import QuestionRow
from bot.followup.report import CSV_FIELDS, build_report, pseudonym
from bot.followup.survey import SurveyService
from bot.followup.webinars import WebinarError, WebinarService
from bot.nlp import Analyzer
from bot.storage.db import Database
from tests.followup.conftest import Clock

PNG = b"\x89PNG\r\n\x1a\n"
KEY = b"fixed-test-key"
FORMULA = '=HYPERLINK("http://evil.example")shuttle bus'
BUS, SLIDES, TRAM = "Hydrogen buses", "Speaker slides", "Tram plans"


def _src(n: int, title: str) -> dict[str, object]:
    return {
        "n": n,
        "source": f"{title.lower().replace(' ', '-')}.md",
        "title": title,
        "heading": "",
        "text": "…",
    }


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One logged question of the fixture and what became of it."""

    user: int
    at: datetime
    question: str
    language: str = "en"
    answer: str = "not found"
    sources: tuple[dict[str, object], ...] = ()
    vote: int | None = None
    escalation: str | None = None  # the queue status, or None when never queued

    @property
    def grounded(self) -> bool:
        return bool(self.sources)


# fmt: off
ROWS = [
    Row(50, _at(23, 9), "Where is the hydrogen bus depot?", answer="The depot is in Seo-gu. [1]",
        sources=(_src(1, BUS), _src(2, TRAM)), vote=1),
    Row(51, _at(23, 10), "How many hydrogen buses run?", answer="Twelve buses on two lines. [1, 2]",
        sources=(_src(1, BUS), _src(2, SLIDES)), vote=1),
    Row(50, _at(23, 20), "수소버스 보조금은 얼마인가요?", language="ko", escalation="answered"),
    Row(52, _at(25, 8), "What is the shuttle bus schedule?", escalation="open"),
    Row(53, _at(25, 8, 30), FORMULA, escalation="dismissed"),
    Row(51, _at(25, 9), "Is the tram free?", answer="Tickets cost 1,400 won. [1]",
        sources=(_src(1, TRAM),), vote=-1, escalation="open"),
    Row(54, _at(25, 9, 30), "Where is the shuttle bus stop?"),
]
# fmt: on


def _logged(row: Row, webinar: str | None, role: str = "attendee") -> QuestionRow:
    return QuestionRow(
        user_id=row.user,
        chat_id=row.user,
        role=role,
        webinar=webinar,
        question=row.question,
        answer=row.answer,
        grounded=row.grounded,
        language=row.language,
        sources=list(row.sources),
        created_at=row.at,
        vote=row.vote,
    )


@pytest.fixture
def fixture(db: Database, clock: Clock) -> str:
    webinars = WebinarService(db, clock)
    code = webinars.create("Hydrogen mobility forum", date(2026, 11, 20), "en", 10).code
    other = webinars.create("Other forum", date(2026, 11, 21), "en", 10).code
    for user in (50, 51, 52, 53, 54):
        webinars.register(user, code, "en")
    webinars.register(60, other, "en")
    queue = EscalationService(db, clock)
    with db.session() as s:
        rows = [_logged(r, code) for r in ROWS]
        noise = [
            _logged(Row(60, clock.now, "Other shuttle bus?"), other),
            _logged(Row(70, clock.now, "Shuttle bus?", vote=-1), None, role="public"),
        ]
        s.add_all(rows + noise)
        s.flush()
        ids = [r.id for r in rows]
    for answer_id, row in zip(ids, ROWS, strict=True):
        status = row.escalation
        if status is None:
            continue
        item = queue.escalate_answer(answer_id, "ungrounded")
        assert item is not None
        if status == "answered":
            queue.answer(item.id, 10, "보조금은 대당 2억 원입니다.")
        elif status == "dismissed":
            queue.dismiss(item.id, 10)
    survey = SurveyService(db, clock)
    survey.record(code, 50, 5)
    survey.record(code, 51, 4, "Useful, thanks")
    survey.record(code, 52, 2, "Too short ![x](http://tracker.example/p.png)")
    survey.record(other, 60, 1)
    return code


def test_the_figures_of_a_known_webinar_are_exact(
    db: Database, fixture: str, analyzer: Analyzer
) -> None:
    figures = build_report(fixture, db, analyzer, pseudonym_key=KEY).figures
    expected = dict(
        attendees=5,
        askers=5,
        questions=7,
        answered_by_bot=2,
        answered_by_staff=1,
        open=3,
        dismissed=1,
        thumbs_up=2,
        thumbs_down=1,
        thumbs_up_rate=66.7,
        survey_responses=3,
        satisfaction={1: 0, 2: 1, 3: 0, 4: 1, 5: 1},
        satisfaction_pct=66.7,
        satisfaction_avg=3.67,
    )
    assert {k: figures[k] for k in expected} == expected
    # only the documents an answer actually cites ([n] marks), each once per question
    assert figures["most_cited"] == [(BUS, 2), (SLIDES, 1), (TRAM, 1)]
    # terms of the open and dismissed questions, each question counting a term once
    singles = ["evil", "example", "free", "http", "hyperlink", "schedule", "stop", "tram"]
    assert figures["unanswered_topics"] == [("bus", 3), ("shuttle", 3)] + [(t, 1) for t in singles]
    assert figures["questions_per_day"] == {"2026-11-23": 3, "2026-11-24": 0, "2026-11-25": 4}


def test_days_are_counted_in_the_offices_time_zone(
    db: Database, fixture: str, analyzer: Analyzer
) -> None:
    figures = build_report(fixture, db, analyzer, tz=ZoneInfo("Asia/Seoul")).figures
    assert figures["questions_per_day"] == {"2026-11-23": 2, "2026-11-24": 1, "2026-11-25": 4}


def test_the_csv_has_one_pseudonymous_row_per_question(
    db: Database, fixture: str, analyzer: Analyzer
) -> None:
    report = build_report(fixture, db, analyzer, pseudonym_key=KEY)
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert tuple(rows[0]) == CSV_FIELDS
    outcomes = ["bot", "bot", "staff", "open", "dismissed", "open", "open"]
    assert [r["outcome"] for r in rows] == outcomes
    assert [r["vote"] for r in rows] == ["up", "up", "", "", "", "down", ""]
    assert [r["language"] for r in rows] == ["en", "en", "ko", "en", "en", "en", "en"]
    assert rows[0]["date"] == "2026-11-23T09:00+00:00"
    assert rows[1]["cited_documents"] == f"{BUS}; {SLIDES}"
    assert rows[2]["question"] == "수소버스 보조금은 얼마인가요?"
    assert rows[4]["question"] == "'" + FORMULA  # a spreadsheet shows it, never runs it
    users = [r["user"] for r in rows]
    assert users[0] == users[2] == pseudonym(50, KEY) and users[0] != users[1]
    assert all(u.startswith("u-") and len(u) == 12 for u in users)
    assert not any(str(uid) in report.csv for uid in (50, 51, 52, 53, 54))
    other_key = build_report(fixture, db, analyzer).csv  # without a key, a report draws its own
    assert pseudonym(50, KEY) not in other_key


def test_the_markdown_shows_the_figures_and_escapes_attendee_text(
    db: Database, fixture: str, analyzer: Analyzer
) -> None:
    md = build_report(fixture, db, analyzer).markdown
    for line in (
        "| Questions | 7 |",
        "| Answered by staff | 1 |",
        "| 👍 rate | 66.7 % |",
        "| Satisfied (4–5) | 66.7 % |",
        "| 2 | 1 |",
        f"1. {BUS} (2)",
    ):
        assert line in md
    assert "![x](" not in md and "Too short" in md  # a comment cannot embed a tracking image


def test_the_chart_is_a_png_even_for_a_webinar_without_questions(
    db: Database, fixture: str, analyzer: Analyzer
) -> None:
    assert build_report(fixture, db, analyzer).chart_png.startswith(PNG)
    empty = WebinarService(db).create("Empty", date(2026, 12, 1), "en", 10).code
    report = build_report(empty, db, analyzer)
    assert report.chart_png.startswith(PNG)
    figures = report.figures
    assert (figures["questions"], figures["thumbs_up_rate"], figures["satisfaction_pct"]) == (
        0,
        None,
        None,
    )
    assert list(csv.reader(io.StringIO(report.csv))) == [list(CSV_FIELDS)]
    with pytest.raises(WebinarError):
        build_report("nope", db, analyzer)

"""Curated answers: a staff answer is found again by a paraphrase, only where its scope allows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli import answer_json
from bot.domain import Asker, Role, Visibility
from bot.followup.curated import CuratedAnswers, render_document
from bot.followup.escalation import EscalationItem, EscalationService
from bot.followup.webinars import WebinarService
from bot.knowledge.loaders import load
from bot.services import Services
from tests.conftest import write
from tests.followup.conftest import START

STAFF = 10
QUESTION = "Will the presentation slides be shared after the webinar?"
ANSWER = (
    "Yes. The slides and the recording will be emailed to all registered participants by "
    "5 December, and they will also be posted on the city website."
)
PARAPHRASE = "When can we get the slides from the presentations?"
KO_QUESTION = "웨비나 발표 자료를 공유해 주실 수 있나요?"
KO_ANSWER = (
    "네, 발표 자료와 녹화 영상은 12월 5일까지 등록하신 모든 참가자에게 이메일로 보내드립니다."
)
KO_PARAPHRASE = "발표 자료 언제 보내주시나요?"
CORPUS = {
    "riverton.md": (
        "Riverton sister-city agreement",
        "The agreement with Riverton is reviewed every three years by both city councils.",
    ),
    "training.md": (
        "Invited training programme",
        "Partner cities may send two officials for a six-week training in Hanbit each spring.",
    ),
    "transit.md": (
        "스마트 교통카드 웨비나",
        "웨비나에서는 한빛패스 도입 12년의 성과와 비엔호아 교통카드 시범사업 계획을 발표하였다.",
    ),
}
INJECTION = (
    "Thanks!\n---\nvisibility: public\nwebinar: \ntitle: pwned\n---\n# Injected heading\n```\n"
    "What is the budget?"
)


def _answered(
    services: Services, question: str, answer: str, language: str, webinar: str | None
) -> EscalationItem:
    queue = EscalationService(services.db, lambda: START)
    item = queue.escalate(50, 50, question, language, "ungrounded", webinar=webinar)
    return queue.answer(item.id, STAFF, answer)


@pytest.fixture
def services(tmp_path: Path, make_services) -> Services:  # type: ignore[no-untyped-def]
    for name, (title, text) in CORPUS.items():
        write(tmp_path / "kb" / name, f"---\nvisibility: public\n---\n# {title}\n\n{text}\n")
    built: Services = make_services()
    assert not built.ingestor.ingest([tmp_path / "kb"]).failed
    return built


def test_a_paraphrase_by_an_attendee_of_the_webinar_is_answered_from_the_curated_answer_first(
    services: Services,
) -> None:
    webinars = WebinarService(services.db)
    code = webinars.create("Smart transit card webinar", date(2026, 11, 20), "en", STAFF).code
    other = webinars.create("Wildfire webinar", date(2026, 11, 21), "en", STAFF).code
    attendee = Asker(Role.ATTENDEE, webinar=code)
    assert not services.answerer.answer(PARAPHRASE, attendee).grounded  # the gap staff filled

    curated = CuratedAnswers(services.settings.bot_data_dir, services.ingestor)
    items = [
        _answered(services, QUESTION, ANSWER, "en", code),
        _answered(services, KO_QUESTION, KO_ANSWER, "ko", code),
    ]
    for item in items:
        report = curated.publish(item, "webinar", code)
        assert report.chunks >= 1 and not report.failed

    for item, paraphrase, expected in zip(
        items, (PARAPHRASE, KO_PARAPHRASE), ("5 December", "12월 5일"), strict=True
    ):
        answer = services.answerer.answer(paraphrase, attendee)
        assert answer.grounded, paraphrase
        first = answer.citations[0]
        assert first.source == f"qa-{item.id}.md"
        assert first.title in (
            f"Answer from the international-exchange office (#{item.id})",
            f"국제교류팀 답변 (#{item.id})",
        )
        assert first.shown_heading == "", "the attendee's question is never shown to others"
        assert answer_json(answer)["sources"][0]["heading"] == "", "nor printed by `ask --json`"
        assert expected in answer.text
        for outsider in (
            Asker(Role.PUBLIC),
            Asker(Role.ATTENDEE, webinar=other),
            Asker(Role.PARTNER, partner="Riverton"),
        ):
            seen = services.answerer.answer(paraphrase, outsider)
            assert not any(c.source.startswith("qa-") for c in seen.citations), (
                outsider,
                paraphrase,
            )
            assert expected not in seen.text


def test_scope_sets_exact_metadata_and_republishing_replaces_the_document(
    services: Services,
) -> None:
    curated = CuratedAnswers(services.settings.bot_data_dir, services.ingestor)
    item = _answered(services, QUESTION, ANSWER, "en", "w1")
    docs = lambda: {d.source: d for d in services.store.documents()}  # noqa: E731
    curated.publish(item, "webinar")  # the item's own webinar
    assert (docs()[f"qa-{item.id}.md"].webinar, docs()[f"qa-{item.id}.md"].visibility) == (
        "w1",
        Visibility.PUBLIC,
    )
    assert docs()[f"qa-{item.id}.md"].kind == "qa"
    curated.publish(item, "internal")
    doc = docs()[f"qa-{item.id}.md"]
    assert (doc.webinar, doc.visibility) == ("", Visibility.INTERNAL)
    assert len([s for s in docs() if s.startswith("qa-")]) == 1
    staff = services.answerer.answer(PARAPHRASE, Asker.staff())
    assert staff.citations and staff.citations[0].source == f"qa-{item.id}.md"
    attendee = services.answerer.answer(PARAPHRASE, Asker(Role.ATTENDEE, webinar="w1"))
    assert not any(c.source.startswith("qa-") for c in attendee.citations)


def test_text_written_by_an_attendee_cannot_inject_front_matter_or_structure(
    services: Services, tmp_path: Path
) -> None:
    item = _answered(
        services,
        INJECTION,
        "# Not a heading\n```\n---\nvisibility: public\nThe budget is internal.",
        "en",
        "w1",
    )
    text = render_document(item, Visibility.INTERNAL, "")
    path = write(tmp_path / "qa.md", text)
    loaded = load(path, "qa.md", Visibility.PUBLIC)
    assert loaded.meta.visibility is Visibility.INTERNAL and loaded.meta.webinar == ""
    assert loaded.meta.title == "Answer from the international-exchange office (#1)"
    assert len(loaded.sections) == 1  # no heading of the attendee's or the staff's making
    section = loaded.sections[0]
    assert section.heading == (" ".join(INJECTION.split()),)
    assert "The budget is internal." in section.text and "\\# Not a heading" in section.text

    # and through the real ingest: the stored document stays staff-only
    CuratedAnswers(services.settings.bot_data_dir, services.ingestor).publish(item, "internal")
    doc = {d.source: d for d in services.store.documents()}[f"qa-{item.id}.md"]
    assert (doc.visibility, doc.webinar) == (Visibility.INTERNAL, "")
    for asker in (Asker(Role.PUBLIC), Asker(Role.ATTENDEE, webinar="w1")):
        hits = services.retriever.retrieve("visibility public pwned budget", asker, 10).hits
        assert all(not h.chunk.doc.source.startswith("qa-") for h in hits)


def test_only_an_answered_item_with_a_known_scope_is_published(services: Services) -> None:
    curated = CuratedAnswers(services.settings.bot_data_dir, services.ingestor)
    queue = EscalationService(services.db, lambda: START)
    open_item = queue.escalate(50, 50, QUESTION, "en", "ungrounded")
    with pytest.raises(ValueError):
        curated.publish(open_item, "public")
    answered = queue.answer(open_item.id, STAFF, ANSWER)
    with pytest.raises(ValueError):
        curated.publish(answered, "partner")
    with pytest.raises(ValueError):
        curated.publish(answered, "webinar")  # neither given nor the item's own
    assert curated.publish(answered, "public").chunks >= 1
    assert curated.path_of(answered.id).exists()


def test_staff_can_publish_a_reworded_question_instead_of_the_attendees_words() -> None:
    item = EscalationItem(
        id=3, webinar="w1", user_id=50, chat_id=50, language="en", reason="ungrounded",
        question="Hi, I am Kim (010-1234-5678). Will the slides be shared?", answer_id=None,
        status="answered", assigned_to=None, created_at=START, answered_at=START, answered_by=STAFF,
        staff_answer=ANSWER, reposted_at=None,
    )  # fmt: skip
    text = render_document(item, Visibility.PUBLIC, "w1", question="Will the slides be shared?")
    assert "Kim" not in text and "010" not in text
    assert "## Will the slides be shared?" in text and ANSWER in text

"""The escalation queue: no duplicates per answer, replies mapped back, one answer, one re-post."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import Answer, Asker, Role
from bot.followup.escalation import EscalationError, EscalationService, Reason, Status
from bot.followup.feedback import FeedbackService
from bot.storage.db import Database
from tests.conftest import statements
from tests.followup.conftest import Clock

ATTENDEE, CHAT, STAFF, OTHER_STAFF, STAFF_CHAT = 50, 50, 10, 11, -100123


@pytest.fixture
def queue(db: Database, clock: Clock) -> EscalationService:
    return EscalationService(db, clock)


def test_an_answer_is_queued_once_whatever_happens_to_it_next(
    db: Database, clock: Clock, queue: EscalationService
) -> None:
    answer = Answer("Is there a shuttle bus?", "not found", (), False, "en")
    answer_id = FeedbackService(db, clock).log(
        ATTENDEE, CHAT, Asker(Role.ATTENDEE, webinar="w1"), answer
    )
    item = queue.escalate_answer(answer_id, Reason.UNGROUNDED)
    assert item is not None and item.is_new
    assert (item.webinar, item.user_id, item.chat_id, item.question, item.reason, item.status) == (
        "w1",
        ATTENDEE,
        CHAT,
        "Is there a shuttle bus?",
        "ungrounded",
        "open",
    )
    again = queue.escalate_answer(answer_id, Reason.DOWNVOTE)  # then the attendee also votes 👎
    assert (
        again is not None
        and again.id == item.id
        and not again.is_new
        and again.reason == "ungrounded"
    )
    assert queue.escalate_answer(999, "downvote") is None
    assert len(queue.pending()) == 1


def test_a_question_without_a_logged_answer_or_webinar_can_be_queued(
    queue: EscalationService,
) -> None:
    first = queue.escalate(60, 60, "Wer ist zuständig?", "de", "ungrounded")
    second = queue.escalate(60, 60, "Wer ist zuständig?", "de", "ungrounded")
    assert first.webinar is None and first.answer_id is None
    assert first.id != second.id  # without an answer id there is nothing to deduplicate on
    with pytest.raises(ValueError):
        queue.escalate(60, 60, "q", "en", "because")


def test_a_reply_to_any_staff_post_finds_the_question(queue: EscalationService) -> None:
    item = queue.escalate(ATTENDEE, CHAT, "Where are the slides?", "en", "ungrounded", answer_id=7)
    queue.record_post(item.id, STAFF_CHAT, 501)
    queue.record_post(item.id, OTHER_STAFF, 77)  # posted to a colleague privately too
    queue.record_post(item.id, OTHER_STAFF, 77)  # recording twice is harmless
    assert queue.find_by_post(STAFF_CHAT, 501).id == item.id  # type: ignore[union-attr]
    found = queue.find_by_post(OTHER_STAFF, 77)
    assert found is not None and set(found.posts) == {(STAFF_CHAT, 501), (OTHER_STAFF, 77)}
    assert queue.find_by_post(STAFF_CHAT, 502) is None
    assert queue.find_by_post(ATTENDEE, 501) is None
    with pytest.raises(EscalationError):
        queue.record_post(12345, STAFF_CHAT, 1)


def test_only_an_open_item_can_be_answered_and_only_once(
    queue: EscalationService, clock: Clock
) -> None:
    item = queue.escalate(ATTENDEE, CHAT, "Where are the slides?", "en", "ungrounded", answer_id=7)
    assert queue.assign(item.id, OTHER_STAFF).assigned_to == OTHER_STAFF
    with pytest.raises(EscalationError) as empty:
        queue.answer(item.id, STAFF, "   ")
    assert empty.value.reason == "escalation_empty_answer"
    clock.advance(minutes=30)
    answered = queue.answer(item.id, STAFF, "  They are on the forum page.  ")
    assert (answered.status, answered.answered_by, answered.answered_at, answered.staff_answer) == (
        Status.ANSWERED.value,
        STAFF,
        clock.now,
        "They are on the forum page.",
    )
    for action in (
        lambda: queue.answer(item.id, OTHER_STAFF, "late"),
        lambda: queue.dismiss(item.id, OTHER_STAFF),
        lambda: queue.assign(item.id, OTHER_STAFF),
    ):
        with pytest.raises(EscalationError) as closed:
            action()
        assert closed.value.reason == "escalation_closed"
    assert queue.get(item.id).staff_answer == "They are on the forum page."  # type: ignore[union-attr]
    with pytest.raises(EscalationError) as unknown:
        queue.answer(4242, STAFF, "text")
    assert unknown.value.reason == "escalation_unknown"
    assert queue.pending() == []


def test_a_dismissed_item_leaves_the_queue_without_an_answer(queue: EscalationService) -> None:
    item = queue.escalate(ATTENDEE, CHAT, "asdf", "en", "ungrounded")
    dismissed = queue.dismiss(item.id, STAFF)
    assert dismissed.status == "dismissed" and dismissed.staff_answer is None
    assert queue.pending() == []
    with pytest.raises(EscalationError):
        queue.answer(item.id, STAFF, "too late")


def test_pending_lists_open_items_oldest_first_with_their_age(
    queue: EscalationService, clock: Clock
) -> None:
    first = queue.escalate(1, 1, "first", "en", "ungrounded", webinar="w1")
    clock.advance(hours=2)
    second = queue.escalate(2, 2, "second", "ko", "downvote")
    clock.advance(minutes=15)
    third = queue.escalate(3, 3, "third", "en", "ungrounded", webinar="w1")
    queue.dismiss(third.id, STAFF)
    pending = queue.pending()
    assert [(p.item.id, p.age) for p in pending] == [
        (first.id, timedelta(hours=2, minutes=15)),
        (second.id, timedelta(minutes=15)),
    ]
    assert [p.item.id for p in queue.pending(webinar="w1")] == [first.id]


def test_an_item_waiting_too_long_is_reposted_exactly_once(
    queue: EscalationService, clock: Clock
) -> None:
    old = queue.escalate(1, 1, "old", "en", "ungrounded")
    clock.advance(hours=3)
    young = queue.escalate(2, 2, "young", "en", "ungrounded")
    answered = queue.escalate(3, 3, "answered", "en", "ungrounded")
    clock.advance(hours=1)
    queue.answer(answered.id, STAFF, "done")
    due = queue.due_for_repost(clock.now, timedelta(hours=2))
    assert [i.id for i in due] == [old.id] and due[0].reposted_at is None
    assert queue.due_for_repost(clock.now, timedelta(hours=2)) == [], "claimed: held"
    queue.reposted(old.id, clock.now)
    assert queue.get(old.id).reposted_at == clock.now  # type: ignore[union-attr]
    clock.advance(hours=2)
    assert [i.id for i in queue.due_for_repost(clock.now, timedelta(hours=2))] == [young.id]
    queue.reposted(young.id, clock.now)
    assert queue.due_for_repost(clock.now + timedelta(days=9), timedelta(hours=2)) == []


def test_a_repost_whose_poster_died_is_claimed_again_once_its_lease_ran_out(
    queue: EscalationService, clock: Clock
) -> None:
    item = queue.escalate(1, 1, "old", "en", "ungrounded")
    clock.advance(hours=3)
    assert [i.id for i in queue.due_for_repost(clock.now, timedelta(hours=2), "dead")] == [item.id]
    clock.advance(minutes=9)
    assert queue.due_for_repost(clock.now, timedelta(hours=2), "other") == []
    clock.advance(minutes=2)
    again = queue.due_for_repost(clock.now, timedelta(hours=2), "other")
    assert [i.id for i in again] == [item.id]


def test_listing_the_queue_reads_every_items_posts_in_one_query(
    db: Database, queue: EscalationService, clock: Clock
) -> None:
    items = [queue.escalate(n, n, f"question {n}", "en", "ungrounded") for n in range(1, 6)]
    for n, item in enumerate(items):
        queue.record_post(item.id, STAFF_CHAT, 100 + n)
        queue.record_post(item.id, STAFF, 200 + n)
    clock.advance(hours=3)
    with statements(db.engine) as pending_sql:
        pending = queue.pending()
    with statements(db.engine) as repost_sql:
        due = queue.due_for_repost(clock.now, timedelta(hours=2))
    for listed in ([p.item for p in pending], due):
        assert [i.posts for i in listed] == [
            ((STAFF_CHAT, 100 + n), (STAFF, 200 + n)) for n in range(5)
        ]
    selects = [q for q in pending_sql if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, pending_sql  # the items, then the posts of all of them
    assert len([q for q in repost_sql if "escalation_posts" in q]) == 1, repost_sql


def test_an_answer_on_its_way_holds_the_item_open_until_it_arrives(
    queue: EscalationService, clock: Clock
) -> None:
    item = queue.escalate(ATTENDEE, CHAT, "Is there a shuttle bus?", "en", "ungrounded")
    claimed = queue.claim(item.id, STAFF, " From the station. ")
    assert claimed.status == "open" and claimed.staff_answer == "From the station."
    with pytest.raises(EscalationError, match="escalation_busy"):
        queue.claim(item.id, OTHER_STAFF, "a second answer while the first is delivered")
    failed = queue.release(item.id, "Timed out")
    assert failed.status == "open" and failed.delivery_error == "Timed out"
    assert [p.item.staff_answer for p in queue.pending()] == ["From the station."]
    queue.claim(item.id, OTHER_STAFF, "From the station, every 20 minutes.")
    done = queue.delivered(item.id)
    assert (done.status, done.answered_by, done.delivery_error) == ("answered", OTHER_STAFF, None)
    with pytest.raises(EscalationError, match="escalation_closed"):
        queue.claim(item.id, STAFF, "late")


def test_a_delivery_cut_short_by_a_stop_frees_its_item_after_a_while(
    queue: EscalationService, clock: Clock
) -> None:
    item = queue.escalate(ATTENDEE, CHAT, "Is there a shuttle bus?", "en", "ungrounded")
    queue.claim(item.id, STAFF, "From the station.")  # and the bot stops before it is sent
    clock.advance(minutes=11)
    assert queue.claim(item.id, OTHER_STAFF, "From the station.").answered_by == OTHER_STAFF


def test_a_question_from_a_group_is_remembered_as_such(
    db: Database, clock: Clock, queue: EscalationService
) -> None:
    feedback = FeedbackService(db, clock)
    answer = Answer("Who pays the hotel?", "not found", (), False, "en")
    in_group = feedback.log(ATTENDEE, STAFF_CHAT, Asker(), answer)
    private = feedback.log(ATTENDEE, ATTENDEE, Asker(), answer)
    assert queue.escalate_answer(in_group, "downvote").in_group  # type: ignore[union-attr]
    assert not queue.escalate_answer(private, "downvote").in_group  # type: ignore[union-attr]
    told = feedback.log(ATTENDEE, ATTENDEE, Asker(), answer)
    assert queue.escalate_answer(told, "downvote", in_group=True).in_group  # type: ignore[union-attr]

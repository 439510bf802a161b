"""Staff answers go where they were meant to, arrive whole, and close a question only on arrival."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.app.core import App
from bot.app.messages import TEXT_LIMIT, Actor, Out, Reply, length
from bot.i18n import t
from tests.app.conftest import RecordingOutbox

STAFF, ASKER, GROUP = 100, 200, -500
FROM_GROUP = t("esc_from_group", "en")


@pytest.fixture
def app(make_services: Any, tmp_path: Path, outbox: RecordingOutbox, database_url: str) -> App:
    services = make_services(tmp_path / "data", staff_user_ids=[STAFF], database_url=database_url)
    return App(services, outbox)


def staff() -> Actor:
    return Actor(STAFF, STAFF, first_name="Kim", language_code="en")


def button(reply: Reply, prefix: str) -> str:
    outs = ([reply.edit] if reply.edit else []) + reply.messages
    return next(b.data for o in outs for row in o.buttons for b in row if b.data.startswith(prefix))


def downvote_in_group(app: App, question: str = "Who pays for the delegation's hotel?") -> int:
    """Ask in the group, press 👎 there; return the queued item's id."""
    asker = Actor(ASKER, GROUP, in_group=True, first_name="Pat")
    answer = app.text(asker, f"{question}")
    app.button(asker, button(answer, "v:").rsplit(":", 1)[0] + ":-1")
    (pending,) = app.services.escalations.pending()
    return pending.item.id


def test_a_staff_answer_to_a_downvote_in_a_group_goes_to_the_asker_privately(
    app: App, outbox: RecordingOutbox
) -> None:
    item_id = downvote_in_group(app)
    post = outbox.to(STAFF)[-1]
    assert FROM_GROUP in post.text, "staff see the question came from a group"
    reply = app.command(staff(), "reply", f"{item_id} The city pays for two nights.")
    assert reply.messages[-1].text.startswith(t("esc_delivered_private", "en", id=item_id)[:30])
    (private,) = outbox.to(ASKER)[-1:]
    assert "The city pays for two nights." in private.text and "group" in private.text
    assert not outbox.to(GROUP), "nothing reaches the group unasked"
    assert app.services.escalations.get(item_id).status == "answered"  # type: ignore[union-attr]


def test_an_asker_out_of_private_reach_is_answered_in_the_group_only_once_staff_confirm(
    app: App, outbox: RecordingOutbox
) -> None:
    item_id = downvote_in_group(app)
    outbox.blocked.add(ASKER)
    reply = app.command(staff(), "reply", f"{item_id} The city pays for two nights.")
    assert reply.messages[0].text == t("esc_group_confirm", "en", id=item_id)
    assert not outbox.to(GROUP)
    item = app.services.escalations.get(item_id)
    assert item is not None and item.status == "open", "not answered: it did not arrive"
    deliver = button(reply, "esc:grp:")
    confirmed = app.button(staff(), deliver)
    assert confirmed.remove_buttons
    (in_group,) = outbox.to(GROUP)
    assert "The city pays for two nights." in in_group.text
    assert app.services.escalations.get(item_id).status == "answered"  # type: ignore[union-attr]
    again = app.button(staff(), deliver)  # a double tap delivers once
    assert again.toast == t("escalation_closed", "en") and len(outbox.to(GROUP)) == 1


def test_an_undelivered_message_is_logged_without_the_chat_id(
    app: App, outbox: RecordingOutbox, caplog: pytest.LogCaptureFixture
) -> None:
    item_id = downvote_in_group(app)
    outbox.blocked.add(ASKER)
    with caplog.at_level(logging.INFO, logger="bot.app"):
        app.command(staff(), "reply", f"{item_id} The city pays for two nights.")
        assert app.questions.deliver(Out("hello", chat_id=ASKER)) is None
    lines = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(lines) == 2 and all("blocked" in line for line in lines), lines
    assert not any(str(ASKER) in line for line in lines), lines  # a chat id names a person


def test_a_long_answer_to_a_long_question_arrives_whole_in_parts(
    app: App, outbox: RecordingOutbox
) -> None:
    question = ("How is the exchange grant for a student delegation paid out? " * 40)[:1909]
    item = app.services.escalations.escalate(ASKER, ASKER, question, "en", "ungrounded")
    answer = ("The grant is paid in two parts after the final report is approved. " * 60)[:3900]
    reply = app.command(staff(), "reply", f"{item.id} {answer}")
    assert reply.messages[-1].text.startswith(t("esc_delivered", "en", id=item.id))
    parts = outbox.to(ASKER)
    assert len(parts) == 2 and all(length(p.text) <= TEXT_LIMIT for p in parts)
    first = parts[0].text.partition("”:\n\n")[2]
    assert (first + " " + parts[1].text).split() == answer.split(), "every word arrives"
    assert app.services.escalations.get(item.id).status == "answered"  # type: ignore[union-attr]


def test_a_failed_delivery_leaves_the_question_open_with_a_retry(
    app: App, outbox: RecordingOutbox
) -> None:
    item = app.services.escalations.escalate(
        ASKER, ASKER, "Is there a shuttle?", "en", "ungrounded"
    )
    outbox.failing.add(ASKER)
    reply = app.command(staff(), "reply", f"{item.id} Yes, from the station.")
    assert "could not be delivered" in reply.messages[0].text
    kept = app.services.escalations.get(item.id)
    assert (
        kept is not None and kept.status == "open" and kept.staff_answer == "Yes, from the station."
    )
    assert "⚠" in app.command(staff(), "pending").messages[0].text
    retry = button(reply, "esc:retry:")
    assert "could not be delivered" in app.button(staff(), retry).messages[0].text
    outbox.failing.clear()
    done = app.button(staff(), retry)
    assert done.messages[-1].text.startswith(t("esc_delivered", "en", id=item.id))
    assert [o.text for o in outbox.to(ASKER)][-1].endswith("Yes, from the station.")
    assert app.services.escalations.get(item.id).status == "answered"  # type: ignore[union-attr]


def test_reply_again_works_on_an_item_whose_delivery_failed(
    app: App, outbox: RecordingOutbox
) -> None:
    item = app.services.escalations.escalate(
        ASKER, ASKER, "Is there a shuttle?", "en", "ungrounded"
    )
    outbox.failing.add(ASKER)
    app.command(staff(), "reply", f"{item.id} Yes.")
    outbox.failing.clear()
    app.command(staff(), "reply", f"{item.id} Yes, every 20 minutes from the station.")
    assert outbox.to(ASKER)[-1].text.endswith("every 20 minutes from the station.")


def test_an_asker_who_blocked_the_bot_closes_the_question_and_staff_are_told(
    app: App, outbox: RecordingOutbox
) -> None:
    item = app.services.escalations.escalate(
        ASKER, ASKER, "Is there a shuttle?", "en", "ungrounded"
    )
    outbox.blocked.add(ASKER)
    reply = app.command(staff(), "reply", f"{item.id} Yes.")
    assert reply.messages[0].text == t("esc_undeliverable", "en", id=item.id)
    assert app.services.escalations.get(item.id).status == "answered"  # type: ignore[union-attr]

"""The webinar follow-up loop end to end: link, questions, escalation, staff reply, curated answer,
closing, survey, report and a broadcast to someone who blocked the bot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import build_services
from tests.conftest import BACKENDS, make_settings, write
from tests.e2e.test_bot import (
    ADMIN,
    STAFF,
    TOKEN,
    backend_data_dir,
    buttons,
    reply_to,
    say,
    start_bot,
    stop_bot,
    upload_result,
)

from .emulator import BotApiEmulator

ATTENDEE_A, ATTENDEE_B, OUTSIDER = 510, 520, 530
STAFF_CHAT = -900
SECRET = "The internal budget reserve for the transit webinar is 77,000,000 won."
PROCEEDINGS = (
    "---\ntitle: Smart transit card webinar — proceedings\nlanguage: en\n---\n"
    "# Session 2: fares\n\nThe Hanbit Pass gives a transfer discount of 100 percent within 30 minutes "
    "between bus and metro. About 82 percent of bus riders paid with the card in 2025.\n"
)


@pytest.fixture(scope="module", params=BACKENDS)
def env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder, analyzer
) -> Iterator[tuple[BotApiEmulator, Path]]:  # type: ignore[no-untyped-def]
    """Start the bot with staff documents, once on SQLite and once on PostgreSQL."""
    root = tmp_path_factory.mktemp("webinar")
    write(
        root / "kb" / "internal.md",
        f"---\ntitle: Reserve note\nvisibility: internal\nlanguage: en\n---\n{SECRET}\n",
    )
    write(
        root / "kb" / "partner.md",
        "---\ntitle: Partner memo\nvisibility: partner\nlanguage: en\n---\n"
        "Partner cities may send two transit engineers to the card workshop in March.\n",
    )
    data, url = backend_data_dir(request, root)
    settings = make_settings(data, database_url=url)
    services = build_services(settings, embedder=embedder, analyzer=analyzer)
    services.ingestor.ingest([root / "kb"])
    services.close()
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    emu.user(ADMIN, "Admin", "en")
    emu.user(ATTENDEE_A, "Anh", "en")
    emu.user(ATTENDEE_B, "Ben", "en")
    emu.user(OUTSIDER, "Olga", "en")
    emu.group(STAFF_CHAT, "Exchange office staff", "supergroup")
    proc = start_bot(emu, root / "data", STAFF_CHAT_ID=str(STAFF_CHAT))
    yield emu, root
    stop_bot(proc)
    emu.stop()


def test_the_whole_follow_up_loop(env: tuple[BotApiEmulator, Path]) -> None:
    emu, _ = env
    # staff create the webinar: a deep link and a QR code for the closing slide
    mark = emu.mark()
    emu.send_text(STAFF, "/webinar new 2026-11-20 en Smart transit card webinar")
    created = reply_to(emu, STAFF, mark)
    link = next(w for w in created["text"].split() if "start=w_" in w)
    code = link.split("start=w_")[1]
    qr = emu.wait_for(lambda r: r["chat_id"] == STAFF and r["method"] == "sendPhoto", since=mark)
    assert qr["document"].startswith(b"\x89PNG")

    # staff attach the proceedings to the webinar
    mark = emu.mark()
    emu.send_document(STAFF, "transit-proceedings.md", PROCEEDINGS.encode())
    prompt = reply_to(emu, STAFF, mark, markup=True)
    attach = next(d for text, d in buttons(prompt) if d.endswith(f":webinar:{code}"))
    mark = emu.mark()
    emu.press_button(STAFF, prompt["message_id"], attach)
    done = upload_result(emu, STAFF, "transit-proceedings.md", mark)
    assert "Added" in done["text"], done["text"]

    # two attendees join by the link
    for user in (ATTENDEE_A, ATTENDEE_B):
        assert "Smart transit card webinar" in say(emu, user, f"/start w_{code}")["text"]

    # an answerable question is answered from the webinar's material
    mark = emu.mark()
    emu.send_text(
        ATTENDEE_A, "What transfer discount does the Hanbit Pass give between bus and metro?"
    )
    answer = reply_to(emu, ATTENDEE_A, mark, markup=True)
    assert "100 percent" in answer["text"] and "Smart transit card webinar" in answer["text"]

    # someone who did not attend does not see the webinar's material
    mark = emu.mark()
    emu.send_text(
        OUTSIDER, "What transfer discount does the Hanbit Pass give between bus and metro?"
    )
    assert "100 percent" not in reply_to(emu, OUTSIDER, mark, markup=True)["text"]

    # attendees never see internal or partner documents
    for question in (
        "What is the internal budget reserve for the transit webinar?",
        "How many transit engineers may partner cities send to the card workshop?",
    ):
        text = say(emu, ATTENDEE_A, question, markup=True)["text"]
        assert "77,000,000" not in text and "two transit engineers" not in text

    # an unanswerable question (the material never mentions Busan or 2027) goes to the staff chat
    question = "Will the Hanbit Pass be accepted on buses in Busan from 2027?"
    mark = emu.mark()
    emu.send_text(ATTENDEE_A, question)
    assert (
        "passed your question"
        in emu.wait_for(
            lambda r: r["chat_id"] == ATTENDEE_A and "passed your question" in r["text"], since=mark
        )["text"]
    )
    post = emu.wait_for(lambda r: r["chat_id"] == STAFF_CHAT and question in r["text"], since=mark)
    assert {d.split(":")[1] for _, d in buttons(post)} == {"ans", "mine", "dis"}

    # staff answer by replying to the post; the attendee receives it
    staff_answer = (
        "Yes: from March 2027 the Hanbit Pass will be accepted on all city buses in Busan."
    )
    mark = emu.mark()
    emu.send_text(
        STAFF,
        staff_answer,
        chat_id=STAFF_CHAT,
        chat_type="supergroup",
        reply_to_message_id=post["message_id"],
    )
    delivered = emu.wait_for(
        lambda r: r["chat_id"] == ATTENDEE_A and "city buses in Busan" in r["text"], since=mark
    )
    assert "international-exchange office" in delivered["text"]
    curate = emu.wait_for(
        lambda r: r["chat_id"] == STAFF_CHAT and r.get("reply_markup") and "teach" in r["text"],
        since=mark,
    )
    scope = next(d for _, d in buttons(curate) if d.endswith(":webinar"))
    edits = len(emu.edited)
    emu.press_button(STAFF, curate["message_id"], scope, chat_id=STAFF_CHAT)
    emu.wait_for_edit(
        lambda r: r["chat_id"] == STAFF_CHAT and "Added" in r["text"], since=edits, timeout=60
    )

    # a paraphrase by another attendee is answered at once from the curated answer
    paraphrase = say(
        emu, ATTENDEE_B, "Can I pay with my Hanbit Pass when I ride a bus in Busan?", markup=True
    )
    assert "March 2027" in paraphrase["text"]
    assert "international-exchange office" in paraphrase["text"]  # cited as the office's answer

    # nothing attendee A wrote reached attendee B: the curated answer shows only the office's words
    b_texts = " ".join(r["text"] or "" for r in emu.messages_to(ATTENDEE_B))
    assert question not in b_texts

    # a 👎 sends the answer to the queue as well
    down = next(d for text, d in buttons(paraphrase) if text == "👎")
    mark = emu.mark()
    emu.press_button(ATTENDEE_B, paraphrase["message_id"], down)
    emu.wait_for(
        lambda r: r["chat_id"] == STAFF_CHAT and "👎" in r["text"] and "ride a bus" in r["text"],
        since=mark,
    )
    assert "ride a bus in Busan" in say(emu, STAFF, "/pending")["text"]

    # survey: attendee A rates 5
    mark = emu.mark()
    emu.send_text(STAFF, f"/survey {code}")
    rating = emu.wait_for(
        lambda r: r["chat_id"] == ATTENDEE_A and r.get("reply_markup"), since=mark
    )
    five = next(d for text, d in buttons(rating) if text == "5")
    emu.press_button(ATTENDEE_A, rating["message_id"], five)
    assert "2" in reply_to(emu, STAFF, mark)["text"]  # sent to both attendees
    prompt = emu.wait_for(
        lambda r: r["chat_id"] == ATTENDEE_A and "comment" in (r["text"] or ""), since=mark
    )
    assert (
        "Thank you for your comment"
        in say(
            emu, ATTENDEE_A, "Very useful, thank you.", reply_to_message_id=prompt["message_id"]
        )["text"]
    )

    # the report: Markdown, CSV and a chart
    mark = emu.mark()
    emu.send_text(STAFF, f"/report {code}")
    md = emu.wait_for(
        lambda r: r["chat_id"] == STAFF and (r.get("filename") or "").endswith(".md"), since=mark
    )
    csv_file = emu.wait_for(
        lambda r: r["chat_id"] == STAFF and (r.get("filename") or "").endswith(".csv"), since=mark
    )
    chart = emu.wait_for(lambda r: r["chat_id"] == STAFF and r["method"] == "sendPhoto", since=mark)
    assert b"Smart transit card webinar" in md["document"] or code.encode() in md["document"]
    assert csv_file["document"].startswith(b"\xef\xbb\xbf") and chart["document"].startswith(
        b"\x89PNG"
    )

    # a broadcast to a user who blocked the bot
    emu.block(ATTENDEE_B)
    result = say(emu, STAFF, f"/broadcast {code} Slides are now on the city website.")["text"]
    assert "1 delivered" in result and "1 blocked" in result
    emu.unblock(ATTENDEE_B)

    # closing the webinar: new questions from its link get a polite goodbye
    say(emu, STAFF, f"/webinar close {code}")
    mark = emu.mark()
    emu.send_text(ATTENDEE_A, "One more question about fares?")
    emu.wait_for(
        lambda r: r["chat_id"] == ATTENDEE_A and "has ended" in (r["text"] or ""), since=mark
    )


def test_an_unknown_webinar_link_is_explained(env: tuple[BotApiEmulator, Path]) -> None:
    emu, _ = env
    assert "not valid" in say(emu, OUTSIDER, "/start w_doesnotexist1")["text"]


def test_non_staff_cannot_use_webinar_commands(env: tuple[BotApiEmulator, Path]) -> None:
    emu, _ = env
    for command in ("/webinar list", "/pending", "/report x", "/broadcast x hi"):
        assert "staff" in say(emu, OUTSIDER, command)["text"]


def test_staff_hand_a_question_to_a_colleague_with_assign(env: tuple[BotApiEmulator, Path]) -> None:
    emu, _ = env
    question = "Who runs the tram network in Ouagadougou?"
    mark = emu.mark()
    emu.send_text(OUTSIDER, question)
    post = emu.wait_for(lambda r: r["chat_id"] == STAFF_CHAT and question in r["text"], since=mark)
    item = post["text"].split("#")[1].split()[0]
    emu.wait_for(
        lambda r: r["chat_id"] == OUTSIDER and "passed your question" in r["text"], since=mark
    )

    assert "staff" in say(emu, OUTSIDER, f"/assign {item} {STAFF}")["text"].lower()
    mark = emu.mark()
    emu.send_text(STAFF, f"/assign {item} {OUTSIDER}")  # not a staff member
    assert "Usage: /assign" in reply_to(emu, STAFF, mark)["text"]

    # a colleague the bot cannot reach: the assigner is told so
    emu.block(ADMIN)
    assert "could not send it" in say(emu, STAFF, f"/assign #{item} {ADMIN}")["text"]
    emu.unblock(ADMIN)

    mark = emu.mark()
    emu.send_text(STAFF, f"/assign #{item} {ADMIN}")
    assert reply_to(emu, STAFF, mark)["text"] == f"#{item} is assigned to {ADMIN}."
    handed = emu.wait_for(lambda r: r["chat_id"] == ADMIN and question in r["text"], since=mark)
    assert {d for _, d in buttons(handed)} == {
        f"esc:ans:{item}",
        f"esc:mine:{item}",
        f"esc:dis:{item}",
    }

    # the colleague answers by replying to what they were handed; the asker gets it
    mark = emu.mark()
    emu.send_text(
        ADMIN,
        "Ouagadougou has no tram network; we have no partnership there.",
        reply_to_message_id=handed["message_id"],
    )
    delivered = emu.wait_for(
        lambda r: r["chat_id"] == OUTSIDER and "no tram network" in r["text"], since=mark
    )
    assert "international-exchange office" in delivered["text"]


GROUP = -910
ASKER = 540


def test_a_staff_answer_to_a_downvote_in_a_group_never_reaches_the_group_unasked(
    env: tuple[BotApiEmulator, Path],
) -> None:
    emu, _ = env
    emu.user(ASKER, "Gia", "en")
    emu.group(GROUP, "Transit partners", "supergroup")

    def downvoted(question: str) -> tuple[dict, str]:  # type: ignore[type-arg]
        """Ask in the group, press 👎 there; return the staff post and the item's id."""
        mark = emu.mark()
        emu.send_text(
            ASKER, f"@exchange_test_bot {question}", chat_id=GROUP, chat_type="supergroup"
        )
        answer = reply_to(emu, GROUP, mark, markup=True)
        down = next(d for text, d in buttons(answer) if text == "👎")
        mark = emu.mark()
        emu.press_button(ASKER, answer["message_id"], down, chat_id=GROUP)
        post = emu.wait_for(
            lambda r: r["chat_id"] == STAFF_CHAT and question in r["text"], since=mark
        )
        return post, post["text"].split("#")[1].split()[0]

    post, item = downvoted("Who pays for the delegation's hotel in Busan?")
    assert "Asked in a group chat" in post["text"]
    in_group = len(emu.messages_to(GROUP))
    mark = emu.mark()
    emu.send_text(STAFF, f"/reply {item} The city pays for two nights.")
    private = emu.wait_for(
        lambda r: r["chat_id"] == ASKER and "two nights" in (r["text"] or ""), since=mark
    )
    assert "asked in a group" in private["text"]
    assert "privately" in reply_to(emu, STAFF, mark)["text"]
    assert len(emu.messages_to(GROUP)) == in_group, "nothing reached the group"

    # an asker the bot cannot reach privately: staff are asked first, then it goes to the group
    post, item = downvoted("Which hotel does the Busan delegation stay in?")
    emu.block(ASKER)
    try:
        mark = emu.mark()
        emu.send_text(STAFF, f"/reply {item} The Harbour Hotel near the station.")
        confirm = reply_to(emu, STAFF, mark, markup=True)
        assert "cannot be reached privately" in confirm["text"]
        assert len(emu.messages_to(GROUP)) == in_group + 1  # only the group's own answer
        deliver = next(d for _, d in buttons(confirm) if d.startswith("esc:grp:"))
        mark = emu.mark()
        emu.press_button(STAFF, confirm["message_id"], deliver)
        emu.wait_for(
            lambda r: r["chat_id"] == GROUP and "Harbour Hotel" in (r["text"] or ""), since=mark
        )
        emu.wait_for(
            lambda r: r["chat_id"] == STAFF and "was delivered" in (r["text"] or ""), since=mark
        )
    finally:
        emu.unblock(ASKER)
    assert f"#{item}" not in say(emu, STAFF, "/pending")["text"], "answered once delivered"


def test_a_long_staff_answer_to_a_long_question_arrives_in_parts(
    env: tuple[BotApiEmulator, Path],
) -> None:
    emu, _ = env
    question = ("Which documents does a zoo keeper need for the llama exchange? " * 40)[:1909]
    mark = emu.mark()
    emu.send_text(OUTSIDER, question)
    post = emu.wait_for(
        lambda r: r["chat_id"] == STAFF_CHAT and "llama exchange" in r["text"], since=mark
    )
    item = post["text"].split("#")[1].split()[0]
    emu.wait_for(
        lambda r: r["chat_id"] == OUTSIDER and "passed your question" in r["text"], since=mark
    )
    answer = ("A keeper needs a health certificate and the zoo's transfer permit. " * 60)[:3900]
    mark = emu.mark()
    emu.send_text(STAFF, f"/reply {item} {answer}")
    assert "was delivered" in reply_to(emu, STAFF, mark, timeout=30)["text"]
    parts = [r for r in emu.sent[mark:] if r["chat_id"] == OUTSIDER]
    assert len(parts) == 2 and all(len(p["text"]) <= 4096 for p in parts)
    assert "international-exchange office" in parts[0]["text"]
    first = parts[0]["text"].partition("”:\n\n")[2]
    assert (first + " " + parts[1]["text"]).split() == answer.split()
    assert not [e for e in emu.errors[-5:] if "too long" in e["description"]]

"""The /meet flow and meeting notices end to end: buttons, the .ics arriving, cancel, a sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from tests.conftest import ROOT, make_settings
from tests.e2e.test_bot import (
    ADMIN,
    STAFF,
    TOKEN,
    buttons,
    make_partner,
    reply_to,
    say,
    start_bot,
    stop_bot,
)

from .emulator import BotApiEmulator

PARTNER = 310


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotApiEmulator]:
    data = tmp_path_factory.mktemp("meetings") / "data"
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    emu.user(ADMIN, "Admin", "en")
    emu.user(PARTNER, "Dana", "en")
    proc = start_bot(emu, data)
    make_partner(emu, PARTNER, "Riverton")
    yield emu
    stop_bot(proc)
    emu.stop()


def press(emu: BotApiEmulator, user: int, message_id: int, data: str) -> dict:  # type: ignore[type-arg]
    edits = len(emu.edited)
    emu.press_button(user, message_id, data)
    return emu.wait_for_edit(
        lambda r: r["chat_id"] == user and r["message_id"] == message_id, since=edits, timeout=30
    )


def book(emu: BotApiEmulator, title: str) -> tuple[dict, str, int]:  # type: ignore[type-arg]
    """Walk /meet to a booked 60-minute meeting with Riverton next week.

    Return the booked message, the chosen slot's text and the `sent` mark before booking.
    """
    prompt = say(emu, STAFF, "/meet", markup=True)
    riverton = next(d for text, d in buttons(prompt) if text == "Riverton")
    step = press(emu, STAFF, prompt["message_id"], riverton)
    step = press(
        emu,
        STAFF,
        prompt["message_id"],
        next(d for text, d in buttons(step) if text.startswith("60")),
    )
    step = press(
        emu,
        STAFF,
        prompt["message_id"],
        next(d for text, d in buttons(step) if text == "Next week"),
    )
    slot_text, slot = buttons(step)[0]
    press(emu, STAFF, prompt["message_id"], slot)
    confirm = say(emu, STAFF, title, markup=True)
    assert title.split(" https://")[0] in confirm["text"] and "zoom" not in confirm["text"]
    mark = emu.mark()
    booked = press(
        emu, STAFF, confirm["message_id"], next(d for t, d in buttons(confirm) if "Book" in t)
    )
    return booked, slot_text, mark


def test_meet_walks_staff_through_to_a_booked_meeting_and_the_partner_gets_the_ics(
    bot: BotApiEmulator,
) -> None:
    booked, slot_text, mark = book(bot, "Wildfire follow-up call https://zoom.example.org/j/555")
    assert "KST" in slot_text and ("PST" in slot_text or "PDT" in slot_text)
    assert "Booked meeting #" in booked["text"]
    assert "https://zoom.example.org/j/555" in booked["text"], (
        "the pasted link replaces the Jitsi room"
    )

    invite = bot.wait_for(
        lambda r: r["chat_id"] == PARTNER and r["method"] == "sendDocument", since=mark, timeout=30
    )
    assert invite["filename"].endswith(".ics")
    assert "Wildfire follow-up call" in invite["caption"]
    calendar = icalendar.Calendar.from_ical(invite["document"])
    event = next(iter(calendar.walk("VEVENT")))
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) in (
        "America/Los_Angeles",
        "US/Pacific",
    ) or start.utcoffset().total_seconds() in (-8 * 3600, -7 * 3600)
    assert calendar.walk("VTIMEZONE"), "the invite carries its time-zone definition"
    seoul = start.astimezone(ZoneInfo("Asia/Seoul"))
    assert seoul.strftime("%H:%M") in slot_text
    organizer_copy = bot.wait_for(
        lambda r: r["chat_id"] == STAFF and r["method"] == "sendDocument", since=mark
    )
    assert organizer_copy["filename"].endswith(".ics")

    # the partner lists it; staff cancel it and the partner gets the cancellation
    listing = say(bot, PARTNER, "/meetings")["text"]
    assert "Wildfire follow-up call" in listing
    meeting_id = listing.split("#")[1].split()[0]
    mark = bot.mark()
    bot.send_text(STAFF, f"/cancel {meeting_id}")
    cancel = bot.wait_for(
        lambda r: r["chat_id"] == PARTNER and r["method"] == "sendDocument", since=mark, timeout=30
    )
    cancelled = icalendar.Calendar.from_ical(cancel["document"])
    assert str(cancelled["METHOD"]) == "CANCEL"
    event2 = next(iter(cancelled.walk("VEVENT")))
    assert (
        str(event2["UID"]) == str(event["UID"])
        and int(event2["SEQUENCE"]) == int(event.get("SEQUENCE", 0)) + 1
    )
    assert "cancelled" in reply_to(bot, STAFF, mark)["text"]


def test_a_title_of_200_ampersands_leaves_the_invite_its_time_and_link(
    bot: BotApiEmulator,
) -> None:
    _, slot_text, mark = book(bot, "&" * 200)
    invite = bot.wait_for(
        lambda r: r["chat_id"] == PARTNER and r["method"] == "sendDocument", since=mark, timeout=30
    )
    caption = invite["caption"]  # as Telegram shows it: 1,024 characters at most, after parsing
    assert len(caption) <= 1024
    assert "&" * 200 in caption, "a title that fits is not shortened"
    assert "Video: https://meet.jit.si/" in caption, "the link survives"
    assert re.search(r"\d\d:\d\d", caption.split("&" * 200)[1]), "the time survives"
    assert caption.rstrip().endswith("The calendar file is attached.")


def test_a_meeting_in_a_sentence_outside_hours_is_refused_with_nearest_slots(
    bot: BotApiEmulator,
) -> None:
    reply = say(
        bot,
        STAFF,
        "meeting with Riverton next Wednesday 3am their time for 45 minutes",
        markup=True,
    )
    assert "outside working hours" in reply["text"]
    assert "nearest" in reply["text"]
    assert buttons(reply), "the nearest valid slots are offered as buttons"


def test_a_meeting_sentence_missing_the_time_says_what_is_missing(bot: BotApiEmulator) -> None:
    assert "time" in say(bot, STAFF, "video meeting with Riverton next Tuesday")["text"]


def test_non_staff_cannot_book(bot: BotApiEmulator) -> None:
    assert "staff" in say(bot, PARTNER, "/meet")["text"]


def test_reschedule_in_the_past_is_refused(bot: BotApiEmulator, tmp_path: Path) -> None:
    text = say(bot, STAFF, "/reschedule 1 2020-01-06T09:00")["text"]
    assert "already passed" in text or "no meeting" in text.lower()


def test_a_meeting_is_rescheduled_and_everyone_gets_the_updated_invite(
    bot: BotApiEmulator, tmp_path: Path
) -> None:
    booked, _, mark = book(bot, "Budget follow-up")
    meeting_id = booked["text"].split("#")[1].split()[0]
    first = bot.wait_for(
        lambda r: r["chat_id"] == PARTNER and r["method"] == "sendDocument", since=mark, timeout=30
    )
    original = next(iter(icalendar.Calendar.from_ical(first["document"]).walk("VEVENT")))
    start = original.decoded("DTSTART")

    # another valid slot, found by the same rules on the same directory (not the booked day)
    service = SchedulingService.from_settings(
        make_settings(tmp_path),
        open_database(f"sqlite:///{tmp_path / 'm.db'}"),
        partners_file=ROOT / "knowledge" / "partners.yaml",
    )
    home = ZoneInfo("Asia/Seoul")
    day = start.astimezone(home).date()
    later = next(
        s.start
        for s in service.slots("Riverton", day + timedelta(days=1), days=14, duration=60)
        if s.start.astimezone(home).date() != day
    )
    mark = bot.mark()
    bot.send_text(STAFF, f"/reschedule {meeting_id} {later.astimezone(home):%Y-%m-%dT%H:%M}")
    moved = bot.wait_for(
        lambda r: r["chat_id"] == PARTNER and r["method"] == "sendDocument", since=mark, timeout=30
    )
    assert "Moved" in moved["caption"] and "Budget follow-up" in moved["caption"]
    event = next(iter(icalendar.Calendar.from_ical(moved["document"]).walk("VEVENT")))
    assert str(event["UID"]) == str(original["UID"])
    assert int(event["SEQUENCE"]) == int(original.get("SEQUENCE", 0)) + 1
    assert event.decoded("DTSTART") == later
    assert f"#{meeting_id} moved" in reply_to(bot, STAFF, mark)["text"]


def test_a_button_of_an_older_meet_message_is_refused(bot: BotApiEmulator) -> None:
    older = say(bot, STAFF, "/meet", markup=True)
    newer = say(bot, STAFF, "/meet", markup=True)
    riverton = next(d for text, d in buttons(older) if text == "Riverton")
    query = bot.press_button(STAFF, older["message_id"], riverton)
    answer = bot.wait_for_call("answerCallbackQuery", lambda c: c["callback_query_id"] == query)
    assert "no longer valid" in answer.get("text", "")
    assert bot.message(STAFF, older["message_id"])["text"] == older["text"], "nothing changed"
    step = press(
        bot, STAFF, newer["message_id"], next(d for t, d in buttons(newer) if t == "Riverton")
    )
    assert "How long" in step["text"]


def test_a_restart_between_two_meet_steps_resumes_the_flow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(STAFF, "Kim", "en")
    proc = start_bot(emu, data)
    try:
        prompt = say(emu, STAFF, "/meet", markup=True)
        step = press(
            emu, STAFF, prompt["message_id"], next(d for t, d in buttons(prompt) if t == "Riverton")
        )
        stop_bot(proc)
        proc = start_bot(emu, data)
        step = press(
            emu,
            STAFF,
            prompt["message_id"],
            next(d for t, d in buttons(step) if t.startswith("60")),
        )
        assert "Which week" in step["text"]
    finally:
        stop_bot(proc)
        emu.stop()

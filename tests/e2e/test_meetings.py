"""The /meet flow and meeting notices end to end: buttons, the .ics arriving, cancel, a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.e2e.test_bot import (
    ADMIN,
    STAFF,
    TOKEN,
    buttons,
    make_partner,
    reply_to,
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


def test_meet_walks_staff_through_to_a_booked_meeting_and_the_partner_gets_the_ics(
    bot: BotApiEmulator,
) -> None:
    mark = bot.mark()
    bot.send_text(STAFF, "/meet")
    prompt = reply_to(bot, STAFF, mark, markup=True)
    riverton = next(d for text, d in buttons(prompt) if text == "Riverton")
    step = press(bot, STAFF, prompt["message_id"], riverton)
    step = press(
        bot,
        STAFF,
        prompt["message_id"],
        next(d for text, d in buttons(step) if text.startswith("60")),
    )
    step = press(
        bot,
        STAFF,
        prompt["message_id"],
        next(d for text, d in buttons(step) if text == "Next week"),
    )
    slot_text, slot = buttons(step)[0]
    assert "KST" in slot_text and ("PST" in slot_text or "PDT" in slot_text)
    press(bot, STAFF, prompt["message_id"], slot)
    mark = bot.mark()
    bot.send_text(STAFF, "Wildfire follow-up call https://zoom.example.org/j/555")
    confirm = reply_to(bot, STAFF, mark, markup=True)
    assert "Wildfire follow-up call" in confirm["text"] and "zoom" not in confirm["text"]
    book = next(d for text, d in buttons(confirm) if "Book" in text)
    mark = bot.mark()
    booked = press(bot, STAFF, confirm["message_id"], book)
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
    mark = bot.mark()
    bot.send_text(PARTNER, "/meetings")
    listing = reply_to(bot, PARTNER, mark)["text"]
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


def test_a_meeting_in_a_sentence_outside_hours_is_refused_with_nearest_slots(
    bot: BotApiEmulator,
) -> None:
    mark = bot.mark()
    bot.send_text(STAFF, "meeting with Riverton next Wednesday 3am their time for 45 minutes")
    reply = reply_to(bot, STAFF, mark, markup=True)
    assert "outside working hours" in reply["text"]
    assert "nearest" in reply["text"]
    assert buttons(reply), "the nearest valid slots are offered as buttons"


def test_a_meeting_sentence_missing_the_time_says_what_is_missing(bot: BotApiEmulator) -> None:
    mark = bot.mark()
    bot.send_text(STAFF, "video meeting with Riverton next Tuesday")
    assert "time" in reply_to(bot, STAFF, mark)["text"]


def test_non_staff_cannot_book(bot: BotApiEmulator) -> None:
    mark = bot.mark()
    bot.send_text(PARTNER, "/meet")
    assert "staff" in reply_to(bot, PARTNER, mark)["text"]


def test_reschedule_in_the_past_is_refused(bot: BotApiEmulator, tmp_path: Path) -> None:
    mark = bot.mark()
    bot.send_text(STAFF, "/reschedule 1 2020-01-06T09:00")
    text = reply_to(bot, STAFF, mark)["text"]
    assert "already passed" in text or "no meeting" in text.lower()

"""A broadcast is keyed by its update, and update ids are counted per bot: two bots sharing a
database start one broadcast each for their update 9, and the same bot's update 9 handled again
goes on with its own."""

from __future__ import annotations

import datetime as dt

from bot.app.core import App
from bot.app.messages import Actor
from bot.storage.inbox import HANDLING
from tests.app.conftest import RecordingOutbox

STAFF, ATTENDEE = 100, 700


def test_two_bots_updates_of_one_number_start_two_broadcasts(
    make_services, tmp_path, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    apps, boxes = [], []
    for n, token in ((1, "111111:FIRST"), (2, "222222:SECOND")):
        services = make_services(
            tmp_path / f"data{n}",
            database_url=database_url,
            telegram_bot_token=token,
            staff_user_ids=[STAFF],
        )
        boxes.append(RecordingOutbox())
        apps.append(App(services, boxes[-1]))
    webinar = apps[0].services.webinars.create("Water", dt.date(2026, 12, 1), "en", STAFF)
    apps[0].services.webinars.register(ATTENDEE, webinar.code, "en")
    staff = Actor(STAFF, STAFF)
    handling = HANDLING.set(9)
    try:
        apps[0].command(staff, "broadcast", f"{webinar.code} From the first bot")
        apps[1].command(staff, "broadcast", f"{webinar.code} From the second bot")
        apps[1].command(staff, "broadcast", f"{webinar.code} From the second bot")  # again
    finally:
        HANDLING.reset(handling)
    assert [o.text for o in boxes[0].to(ATTENDEE)] == ["From the first bot"]
    assert [o.text for o in boxes[1].to(ATTENDEE)] == ["From the second bot"], (
        "its own update 9 handled again goes on with its broadcast, not another bot's, not anew"
    )

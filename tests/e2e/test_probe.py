"""A probe: every update type the emulator can make and every shape of button data, sent to the
running bot. Each gets a short answer or silence: no traceback in the log, no apology in a chat,
nothing posted into a channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from telegram import Update

from tests.e2e.test_bot import (
    ADMIN,
    PUBLIC,
    STAFF,
    TOKEN,
    data_dir,  # noqa: F401 (a fixture)
    reply_to,
    say,
    start_bot,
    stop_bot,
)

from .emulator import BotApiEmulator

GROUP, CHANNEL = -700, -1001700
BOT_ID = int(TOKEN.split(":")[0])
PREFIXES = ("v", "lang", "m", "esc", "cur", "sv", "up")
# data the bot's own buttons carry, one of each kind, with ids that exist or not
VALID = [
    "v:1:1", "v:1:-1", "lang:en", "lang:ko", "m:1:p:0", "m:1:d:60", "m:1:w:0", "m:1:s:0",
    "m:1:t:-", "m:1:ok:-", "m:1:no:-", "esc:ans:1", "esc:mine:1", "esc:dis:1", "esc:grp:1",
    "esc:retry:1", "cur:1:public", "cur:1:internal", "cur:1:webinar", "cur:1:-", "sv:CODE:5",
    "up:1:public", "up:1:partner", "up:1:partner:0", "up:1:partner:-", "up:1:webinar:CODE",
    "up:1:replace", "up:1:both",
]  # fmt: skip
HUGE = "9" * 19  # past a 64-bit integer
COMMANDS = (
    "start", "help", "whoami", "language", "sources", "invite", "partners", "revoke",
    "grouplevel", "stats", "meet", "meetings", "cancel", "reschedule", "webinar", "pending",
    "reply", "assign", "survey", "report", "broadcast", "nonsense",
)  # fmt: skip
ARGS = (
    "", "x", "-1", HUGE, f"#{HUGE}", "²", "#²", "1 2 3 4 5", f"{HUGE} {HUGE}", "&<b>",
    "new 2026-13-45 xx", "partner " + "y" * 300, "🙂" * 20, "y" * 3500,
)  # fmt: skip


def shapes(prefix: str) -> list[str]:
    """Return malformed data for a prefix: truncated, non-numeric, huge, negative, too many parts."""
    found = [
        prefix, f"{prefix}:", f"{prefix}::", f"{prefix}:x", f"{prefix}:x:y", f"{prefix}:1",
        f"{prefix}:-1:1", f"{prefix}:{HUGE}", f"{prefix}:{HUGE}:1", f"{prefix}:1:{HUGE}",
        f"{prefix}:1:2:3:4:5", f"{prefix}:1:&<>", f"{prefix}:１:１", f"{prefix}:²", f"{prefix}:1:²",
        f"{prefix}:1:s:²", f"{prefix}:1:partner:²",
    ]  # fmt: skip
    found += [d[: len(d) - cut] for d in VALID if d.startswith(f"{prefix}:") for cut in (1, 2)]
    found += [d.replace("1", HUGE[:12], 1) for d in VALID if d.startswith(f"{prefix}:")]
    return [d for d in found if len(d.encode()) <= 64]  # Telegram's callback data limit


def now() -> int:
    return int(time.time())


def user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "Probe", "language_code": "en"}


def chat(cid: int) -> dict[str, Any]:
    if cid == CHANNEL:
        return {"id": cid, "type": "channel", "title": "Probe channel"}
    if cid < 0:
        return {"id": cid, "type": "supergroup", "title": "Probe group"}
    return {"id": cid, "type": "private", "first_name": "Probe"}


def message(mid: int, cid: int, uid: int | None, **body: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"message_id": mid, "date": now(), "chat": chat(cid), **body}
    if uid is not None:
        found["from"] = user(uid)
    return found


def raw_updates(bot_message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one update of every kind (and odd messages), without update ids."""
    text = {"text": "When is the agreement reviewed?"}
    photo = {"photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}]}
    doc = {"file_id": "d1", "file_unique_id": "d1", "file_name": "x.md", "file_size": 10}
    kinds: list[dict[str, Any]] = [
        {"edited_message": message(9001, PUBLIC, PUBLIC, edit_date=now(), **text)},
        {"edited_message": message(9002, GROUP, PUBLIC, edit_date=now(), text="/help")},
        {"channel_post": message(9003, CHANNEL, None, **text)},
        {"channel_post": message(9004, CHANNEL, None, text="/start",
                                 entities=[{"type": "bot_command", "offset": 0, "length": 6}])},
        {"channel_post": message(9005, CHANNEL, None, sender_chat=chat(CHANNEL), document=doc)},
        {"edited_channel_post": message(9006, CHANNEL, None, edit_date=now(), **text)},
        {"message": message(9007, PUBLIC, PUBLIC, **photo)},
        {"message": message(9008, PUBLIC, PUBLIC, caption="@exchange_test_bot hi", **photo)},
        {"message": message(9009, PUBLIC, PUBLIC, sticker={
            "file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 1, "height": 1,
            "is_animated": False, "is_video": False})},
        {"message": message(9010, PUBLIC, PUBLIC, location={"latitude": 1.0, "longitude": 2.0})},
        {"message": message(9011, PUBLIC, PUBLIC, contact={"phone_number": "1", "first_name": "A"})},
        {"message": message(9012, PUBLIC, PUBLIC, dice={"emoji": "🎲", "value": 3})},
        {"message": message(9013, GROUP, PUBLIC, new_chat_members=[user(BOT_ID) | {"is_bot": True}])},
        {"message": message(9014, GROUP, PUBLIC, left_chat_member=user(STAFF))},
        {"message": message(9015, GROUP, PUBLIC, group_chat_created=True)},
        {"message": message(9016, GROUP, None, sender_chat=chat(GROUP), **text)},
        {"message": message(9017, GROUP, PUBLIC, document=doc)},
        {"message": message(9018, PUBLIC, PUBLIC, text="")},
        {"message": message(9019, PUBLIC, PUBLIC, text="/")},
        {"message": message(9020, PUBLIC, PUBLIC, text="/@", entities=[
            {"type": "bot_command", "offset": 0, "length": 2}])},
        {"message": message(9021, GROUP, PUBLIC, text="@exchange_test_bot", entities=[
            {"type": "mention", "offset": 0, "length": 18}])},
        {"message": message(9022, PUBLIC, PUBLIC, text="z" * 4096)},
        {"message": message(9023, PUBLIC, PUBLIC, document={**doc, "file_size": 10**12})},
        {"message": message(9024, PUBLIC, PUBLIC, reply_to_message=bot_message, text="and?")},
        {"message": message(9025, PUBLIC, PUBLIC, poll={
            "id": "p", "question": "q", "options": [], "total_voter_count": 0, "is_closed": False,
            "is_anonymous": True, "type": "regular", "allows_multiple_answers": False, "allows_revoting": False, "members_only": False})},
        {"callback_query": {"id": "cq1", "from": user(PUBLIC), "chat_instance": "1",
                            "inline_message_id": "im1", "data": "v:1:1"}},
        {"callback_query": {"id": "cq2", "from": user(PUBLIC), "chat_instance": "1",
                            "message": bot_message, "game_short_name": "game"}},
        {"callback_query": {"id": "cq3", "from": user(PUBLIC), "chat_instance": "1",
                            "message": {"message_id": 1, "date": 0, "chat": chat(PUBLIC)},
                            "data": "lang:en"}},
        {"inline_query": {"id": "iq", "from": user(PUBLIC), "query": "budget", "offset": ""}},
        {"chosen_inline_result": {"result_id": "r", "from": user(PUBLIC), "query": "budget"}},
        {"shipping_query": {"id": "sq", "from": user(PUBLIC), "invoice_payload": "x",
                            "shipping_address": {"country_code": "KR", "state": "", "city": "",
                                                 "street_line1": "", "street_line2": "",
                                                 "post_code": ""}}},
        {"pre_checkout_query": {"id": "pq", "from": user(PUBLIC), "currency": "KRW",
                                "total_amount": 1, "invoice_payload": "x"}},
        {"poll": {"id": "p", "question": "q", "options": [], "total_voter_count": 0,
                  "is_closed": True, "is_anonymous": True, "type": "regular",
                  "allows_multiple_answers": False, "allows_revoting": False, "members_only": False}},
        {"poll_answer": {"poll_id": "p", "user": user(PUBLIC), "option_ids": [0], "option_persistent_ids": ["0"]}},
        {"my_chat_member": {"chat": chat(GROUP), "from": user(ADMIN), "date": now(),
                            "old_chat_member": {"status": "left", "user": user(BOT_ID)},
                            "new_chat_member": {"status": "member", "user": user(BOT_ID)}}},
        {"chat_member": {"chat": chat(GROUP), "from": user(ADMIN), "date": now(),
                         "old_chat_member": {"status": "left", "user": user(PUBLIC)},
                         "new_chat_member": {"status": "member", "user": user(PUBLIC)}}},
        {"chat_join_request": {"chat": chat(GROUP), "from": user(PUBLIC), "user_chat_id": PUBLIC,
                               "date": now()}},
        {"message_reaction": {"chat": chat(GROUP), "message_id": 1, "user": user(PUBLIC),
                              "date": now(), "old_reaction": [],
                              "new_reaction": [{"type": "emoji", "emoji": "👍"}]}},
        {"message_reaction_count": {"chat": chat(GROUP), "message_id": 1, "date": now(),
                                    "reactions": []}},
        {"chat_boost": {"chat": chat(CHANNEL), "boost": {
            "boost_id": "b", "add_date": now(), "expiration_date": now() + 86400,
            "source": {"source": "premium", "user": user(PUBLIC)}}}},
        {"removed_chat_boost": {"chat": chat(CHANNEL), "boost_id": "b", "remove_date": now(),
                                "source": {"source": "premium", "user": user(PUBLIC)}}},
        {"business_connection": {"id": "bc", "user": user(PUBLIC), "user_chat_id": PUBLIC,
                                 "date": now(), "can_reply": True, "is_enabled": True}},
        {"business_message": message(9026, PUBLIC, PUBLIC, business_connection_id="bc", **text)},
        {"deleted_business_messages": {"business_connection_id": "bc", "chat": chat(PUBLIC),
                                       "message_ids": [1]}},
        {"update_kind_from_the_future": {"anything": 1}},
    ]  # fmt: skip
    return kinds


Where = dict[int, tuple[int, int]]  # sender -> (chat, bot message) a press can be made on


def settle(emu: BotApiEmulator, where: Where) -> None:
    """Wait until every sender's updates so far were handled.

    One sender's updates run in order, so the answer to a press sent after them (an unknown
    button: a short refusal) comes after all of them.
    """
    for sender, (chat_id, message_id) in where.items():
        query = emu.press_button(sender, message_id, "probe", chat_id=chat_id, check_markup=False)
        emu.wait_for_call(
            "answerCallbackQuery", lambda c, q=query: c["callback_query_id"] == q, timeout=120
        )


def in_rounds(
    emu: BotApiEmulator, sends: dict[int, list[Callable[[], object]]], where: Where
) -> None:
    """Send each sender's updates in rounds the bot takes in full (a backlog past 100 drops)."""
    size = 90
    for start in range(0, max(len(v) for v in sends.values()), size):
        for items in sends.values():
            for send in items[start : start + size]:
                send()
        settle(emu, where)


def with_buttons(emu: BotApiEmulator, chat_id: int, prefix: str, since: int) -> dict[str, Any]:
    """Return the first message to a chat since `since` with a button whose data has `prefix`."""
    return emu.wait_for(
        lambda r: (
            r["chat_id"] == chat_id
            and any(
                b["callback_data"].startswith(prefix)
                for row in (r.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            )
        ),
        since=since,
        timeout=60,
    )


def test_every_update_type_and_button_shape_gets_a_short_answer_or_silence(
    data_dir: Path,  # noqa: F811
) -> None:
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    for uid, name in ((STAFF, "Kim"), (ADMIN, "Admin"), (PUBLIC, "Pat")):
        emu.user(uid, name, "en")
    emu.group(GROUP, "Probe group", "supergroup")
    proc = start_bot(emu, data_dir)
    try:
        probe(emu)
    finally:
        log = stop_bot(proc)
        emu.stop()
    assert "Traceback" not in log and "error handling update" not in log.lower(), log[-3000:]


def probe(emu: BotApiEmulator) -> None:
    """Send everything; check what came back."""
    mark = emu.mark()
    sends: dict[int, list[Callable[[], object]]] = {PUBLIC: [], STAFF: [], ADMIN: []}
    where: Where = {u: (u, say(emu, u, "/whoami")["message_id"]) for u in sends}
    emu.send_text(PUBLIC, "/help@exchange_test_bot", chat_id=GROUP, chat_type="supergroup")
    group_message = reply_to(emu, GROUP, mark)["message_id"]
    every = [d for p in PREFIXES for d in shapes(p)] + VALID
    presses = [(u, where[u], every) for u in sends] + [(PUBLIC, (GROUP, group_message), VALID)]
    for sender, (chat_id, message_id), datas in presses:
        sends[sender] += [
            partial(emu.press_button, sender, message_id, data, chat_id, False) for data in datas
        ]
    for uid in (PUBLIC, ADMIN):  # the admin is staff too: every staff command runs its course
        for name in COMMANDS:
            for args in ARGS:
                sends[uid].append(partial(emu.send_text, uid, f"/{name} {args}".strip()))
    # a group gets 20 messages a minute from a bot: a few commands there, odd arguments
    for uid in (PUBLIC, ADMIN):
        for name in ("start", "help", "sources", "grouplevel", "reply", "meet", "nonsense"):
            command = f"/{name}@exchange_test_bot {HUGE}"
            sends[uid].append(
                partial(emu.send_text, uid, command, chat_id=GROUP, chat_type="supergroup")
            )
    in_rounds(emu, sends, where)
    bot_message = say(emu, PUBLIC, "/help")
    stored = emu.message(PUBLIC, bot_message["message_id"])
    assert stored is not None
    for update in raw_updates(stored):
        # the probe's own check: PTB drops a whole batch of updates it cannot parse
        Update.de_json({"update_id": 1, **update}, None)
        emu.add_update(update)

    settle(emu, where)
    # real buttons tapped twice: a vote, a language, an upload's visibility
    since = emu.mark()
    emu.send_text(PUBLIC, "How often is the Riverton agreement reviewed?")
    answer = with_buttons(emu, PUBLIC, "v:", since)
    up = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    emu.send_text(PUBLIC, "/language")
    offer = with_buttons(emu, PUBLIC, "lang:", since)
    for _ in range(2):
        emu.press_button(PUBLIC, answer["message_id"], up)
        emu.press_button(PUBLIC, offer["message_id"], "lang:en")
    upload_mark = emu.mark()
    emu.send_document(STAFF, "probe.md", b"---\ntitle: Probe\n---\nThe probe text.\n")
    visibility = with_buttons(emu, STAFF, "up:", upload_mark)
    internal = next(
        b["callback_data"]
        for row in visibility["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].endswith(":internal")
    )
    for _ in range(2):
        emu.press_button(STAFF, visibility["message_id"], internal)

    settle(emu, where)
    texts = [r["text"] or "" for r in emu.sent[mark:]]
    assert not [t for t in texts if "went wrong" in t], "an apology means a handler failed"
    assert not [r for r in emu.sent[mark:] if r["chat_id"] == CHANNEL], "never into a channel"
    assert all(len(t) <= 4096 for t in texts)
    assert not [e for e in emu.errors if e["error_code"] == 400 and "parse" in e["description"]]
    answered = {c["callback_query_id"] for c in emu.calls_of("answerCallbackQuery")}
    pressed = {c["query"]["id"] for c in emu._callback_queries.values()}  # noqa: SLF001
    assert pressed - {"cq1", "cq2", "cq3"} <= answered, "every button press is answered"

"""The real bot, started as `exchange-bot run`, driven over HTTP through the Bot API emulator."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.services import build_services
from tests.conftest import BACKENDS, ROOT, backend_url, bare_env, make_settings, write

from .emulator import BotApiEmulator

TOKEN = "123456:TEST"
STAFF, ADMIN, PUBLIC, PARTNER, OTHER = 100, 1, 200, 300, 400
GROUP = -500

DOCS = {
    "agreements/riverton.md": (
        "---\ntitle: Riverton sister-city agreement\nvisibility: public\npartner: Riverton\nlanguage: en\n---\n"
        "# Article 5 Review\n\nThe parties review this agreement every three years at a joint meeting.\n\n"
        "# Article 6 Contacts\n\nThe contact in Riverton is Ms. Dana Whitfield, Office of International Affairs.\n"
    ),
    "manuals/ceiling.md": (
        "---\ntitle: Joint fund negotiation notes\nvisibility: internal\nlanguage: en\n---\n"
        "# Negotiation ceiling\n\nThe internal negotiation ceiling for the Riverton joint fund is 96,000,000 won. "
        "Do not disclose the ceiling to the Riverton side before the second round.\n"
    ),
    "manuals/partner-note.md": (
        "---\ntitle: Partner briefing for Riverton\nvisibility: partner\npartner: Riverton\nlanguage: en\n---\n"
        "# Delegation schedule\n\nThe Riverton delegation arrives on 12 May and visits the water plant on 13 May.\n"
    ),
}


DATABASES: dict[Path, str] = {}  # data dir -> the DATABASE_URL of the bots started on it


def start_bot(emu: BotApiEmulator, data: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    """Start `exchange-bot run` as a separate process against the emulator (on the data dir's
    database: SQLite in it, or the PostgreSQL database a fixture registered for it)."""
    env = bare_env()
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emu.base_url,
        BOT_DATA_DIR=str(data),
        STAFF_USER_IDS=str(STAFF),
        ADMIN_USER_IDS=str(ADMIN),
        PARTNERS_FILE=str(ROOT / "knowledge" / "partners.yaml"),
        RATE_LIMIT_QUESTIONS="30",
        LOG_LEVEL="INFO",
    )
    if data in DATABASES:
        env["DATABASE_URL"] = DATABASES[data]
    env.update(extra_env)
    exe = Path(sys.executable).with_name("exchange-bot")
    cmd = [str(exe), "run"] if exe.exists() else [sys.executable, "-m", "bot", "run"]
    since = emu.calls_mark()  # an earlier bot's getUpdates on this emulator is not this one's
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        emu.wait_until_polling(timeout=90, since=since)
    except AssertionError:
        proc.kill()
        raise AssertionError(
            proc.stderr.read().decode()[-3000:] if proc.stderr else "bot did not start"
        ) from None
    return proc


def stop_bot(proc: subprocess.Popen[bytes]) -> str:
    """Stop the bot like a service manager would and return its log."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")  # a log line cut by a kill is still a log


def backend_data_dir(request: pytest.FixtureRequest, root: Path) -> tuple[Path, str]:
    """Return a data dir under root and its database URL on the module's backend."""
    data = root / "data"
    url = backend_url(request, request.param, data)
    DATABASES[data] = url
    return data, url


@pytest.fixture(scope="module", params=BACKENDS)
def data_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder, analyzer
) -> Path:  # type: ignore[no-untyped-def]
    """Return a data dir with the documents ingested, once on SQLite and once on PostgreSQL."""
    root = tmp_path_factory.mktemp("e2e")
    for name, text in DOCS.items():
        write(root / "kb" / name, text)
    data, url = backend_data_dir(request, root)
    services = build_services(
        make_settings(data, database_url=url), embedder=embedder, analyzer=analyzer
    )
    report = services.ingestor.ingest([root / "kb"])
    assert report.added == len(DOCS)
    services.close()
    return data


@pytest.fixture(scope="module")
def bot(data_dir: Path) -> Iterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    for uid, name, lang in [
        (STAFF, "Kim", "ko"),
        (ADMIN, "Admin", "en"),
        (PUBLIC, "Pat", "en"),
        (PARTNER, "Dana", "en"),
        (OTHER, "Otto", "de"),
    ]:
        emu.user(uid, name, lang)
    emu.group(GROUP, "Hanbit–Riverton working group", "supergroup")
    proc = start_bot(emu, data_dir)
    yield emu
    log = stop_bot(proc)
    emu.stop()
    assert TOKEN not in log, "the bot token must never reach the logs"


def reply_to(
    emu: BotApiEmulator, chat: int, since: int, *, markup: bool = False, timeout: float = 30
) -> dict:  # type: ignore[type-arg]
    return emu.wait_for(
        lambda r: (
            r["chat_id"] == chat
            and r["method"] == "sendMessage"
            and (not markup or r.get("reply_markup"))
        ),
        timeout=timeout,
        since=since,
    )


def say(emu: BotApiEmulator, chat: int, text: str, *, markup: bool = False, **send: Any) -> dict:  # type: ignore[type-arg]
    """Send a text message from a user (options as send_text) and return the bot's reply."""
    mark = emu.mark()
    emu.send_text(chat, text, **send)
    return reply_to(emu, chat, mark, markup=markup)


def buttons(record: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """Return (text, callback data) of a sent message's inline buttons."""
    return [
        (b["text"], b["callback_data"])
        for row in record["reply_markup"]["inline_keyboard"]
        for b in row
    ]


def upload_result(
    emu: BotApiEmulator, chat: int, name: str, since: int, timeout: float = 120
) -> dict:  # type: ignore[type-arg]
    """Return what an upload came to: the message after its "reading ..." acknowledgement."""
    ack = emu.wait_for(lambda r: r["chat_id"] == chat and name in r["text"], 30, since)
    return emu.wait_for(
        lambda r: r["chat_id"] == chat and name in r["text"] and r is not ack,
        timeout,
        emu.sent.index(ack) + 1,
    )


def make_partner(emu: BotApiEmulator, user: int, city: str) -> None:
    """Make a user an official of a city through a real invite link."""
    code = say(emu, ADMIN, f"/invite {city}")["text"].split("start=join_")[1].split()[0]
    assert city in say(emu, user, f"/start join_{code}")["text"]


def test_question_is_answered_with_sources_and_vote_buttons(bot: BotApiEmulator) -> None:
    answer = say(bot, PUBLIC, "How often is the Riverton agreement reviewed?", markup=True)
    assert "three years" in answer["text"]
    assert "Sources" in answer["text"] and "Riverton sister-city agreement" in answer["text"]
    assert answer["parse_mode"] == "HTML"
    buttons = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["👍", "👎"]
    assert any(c[0] == "sendChatAction" and c[1].get("action") == "typing" for c in bot.calls)


HANDLED_UPDATES = {
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
}


def asked_for(params: dict) -> set[str]:  # type: ignore[type-arg]
    """Return the update types a getUpdates or setWebhook call asked for."""
    import json

    allowed = params.get("allowed_updates")
    return set(json.loads(allowed) if isinstance(allowed, str) else allowed or ())


def test_the_bot_asks_telegram_only_for_the_update_types_it_handles(bot: BotApiEmulator) -> None:
    polls = bot.calls_of("getUpdates")
    assert polls and all(asked_for(p) == HANDLED_UPDATES for p in polls)
    assert bot.calls_of("setWebhook") == [], "polling mode"


def test_public_and_partner_users_get_nothing_of_an_internal_document(bot: BotApiEmulator) -> None:
    make_partner(bot, PARTNER, "Riverton")
    for user in (PUBLIC, PARTNER):
        text = say(
            bot,
            user,
            "What is the internal negotiation ceiling for the Riverton joint fund?",
            markup=True,
        )["text"]
        assert "96,000,000" not in text and "Joint fund negotiation notes" not in text
        assert "96,000,000" not in say(bot, user, "/sources")["text"]
    # the partner sees the partner briefing; staff sees the ceiling
    assert (
        "13 May"
        in say(
            bot, PARTNER, "When does the Riverton delegation visit the water plant?", markup=True
        )["text"]
    )
    assert (
        "96,000,000"
        in say(
            bot,
            STAFF,
            "What is the internal negotiation ceiling for the Riverton joint fund?",
            markup=True,
        )["text"]
    )


def test_group_message_without_mention_is_ignored_and_with_mention_answered(
    bot: BotApiEmulator,
) -> None:
    mark = bot.mark()
    bot.send_text(
        STAFF,
        "How often is the Riverton agreement reviewed?",
        chat_id=GROUP,
        chat_type="supergroup",
    )
    bot.send_text(
        STAFF,
        "@exchange_test_bot What is the internal negotiation ceiling for the Riverton joint fund?",
        chat_id=GROUP,
        chat_type="supergroup",
    )
    answer = reply_to(bot, GROUP, mark, markup=True)
    group_messages = [r for r in bot.sent[mark:] if r["chat_id"] == GROUP]
    assert len(group_messages) == 1, "the unmentioned message must not be answered"
    # staff asking in a group at the default public level must not pull the internal document
    assert "96,000,000" not in answer["text"]
    # a reply to the bot's message counts as addressing it
    mark = bot.mark()
    bot.send_text(
        PUBLIC,
        "And who is the contact in Riverton?",
        chat_id=GROUP,
        chat_type="supergroup",
        reply_to_message_id=answer["message_id"],
    )
    assert "Whitfield" in reply_to(bot, GROUP, mark, markup=True)["text"]


def test_admin_raises_group_level_and_staff_then_sees_internal_there(bot: BotApiEmulator) -> None:
    chat = -600
    bot.group(chat, "Office staff", "group")
    mark = bot.mark()
    bot.send_text(STAFF, "/grouplevel staff", chat_id=chat, chat_type="group")
    assert (
        "Only an administrator" in reply_to(bot, chat, mark)["text"]
        or "관리자" in reply_to(bot, chat, mark)["text"]
    )
    mark = bot.mark()
    bot.send_text(ADMIN, "/grouplevel staff", chat_id=chat, chat_type="group")
    reply_to(bot, chat, mark)
    mark = bot.mark()
    bot.send_text(
        STAFF,
        "@exchange_test_bot What is the internal negotiation ceiling for the Riverton joint fund?",
        chat_id=chat,
        chat_type="group",
    )
    assert "96,000,000" in reply_to(bot, chat, mark, markup=True)["text"]


def test_sources_after_the_group_level_is_lowered_show_only_what_the_group_may_see(
    bot: BotApiEmulator,
) -> None:
    chat, official = -650, 760
    bot.group(chat, "Riverton partners", "supergroup")
    bot.user(official, "Rae", "en")
    make_partner(bot, official, "Riverton")

    def in_group(user: int, text: str, markup: bool = False) -> dict:  # type: ignore[type-arg]
        mark = bot.mark()
        bot.send_text(user, text, chat_id=chat, chat_type="supergroup")
        return reply_to(bot, chat, mark, markup=markup)

    in_group(ADMIN, "/grouplevel partner Riverton")
    answer = in_group(
        official,
        "@exchange_test_bot When does the Riverton delegation visit the water plant?",
        markup=True,
    )
    assert "13 May" in answer["text"]
    assert "Partner briefing for Riverton" in in_group(official, "/sources")["text"]
    in_group(ADMIN, "/grouplevel public")
    after = in_group(official, "/sources")["text"]
    assert "Partner briefing" not in after and "water plant on 13 May" not in after


def test_an_invite_works_once(bot: BotApiEmulator) -> None:
    code = say(bot, ADMIN, "/invite Bien Hoa")["text"].split("start=join_")[1].split()[0]
    assert "Bien Hoa" in say(bot, OTHER, f"/start join_{code}")["text"]
    second = 700
    bot.user(second, "Eve", "en")
    assert "already been used" in say(bot, second, f"/start join_{code}")["text"]
    assert "public" in say(bot, second, "/whoami")["text"]
    listing = say(bot, ADMIN, "/partners")["text"]
    assert f"{OTHER}" in listing and "Bien Hoa" in listing


def test_non_admin_cannot_invite(bot: BotApiEmulator) -> None:
    assert "Only an administrator" in say(bot, PUBLIC, "/invite Riverton")["text"]


def test_staff_upload_is_ingested_and_answerable_and_non_staff_is_refused(
    bot: BotApiEmulator,
) -> None:
    body = (
        b"---\ntitle: Homestay guide\nlanguage: en\n---\n# Homestay allowance\n\n"
        b"Host families receive an allowance of 40,000 won per night for each guest student.\n"
    )
    mark = bot.mark()
    bot.send_document(PUBLIC, "homestay.md", body)
    assert "staff" in reply_to(bot, PUBLIC, mark)["text"].lower()

    mark = bot.mark()
    bot.send_document(STAFF, "homestay.md", body)
    prompt = reply_to(bot, STAFF, mark, markup=True)
    data = [b["callback_data"] for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
    public_button = next(d for d in data if d.endswith(":public"))
    mark = bot.mark()
    bot.press_button(STAFF, prompt["message_id"], public_button)
    done = upload_result(bot, STAFF, "homestay.md", mark)
    assert "1" in done["text"]  # one passage added
    assert any(c[0] == "getFile" for c in bot.calls)

    assert (
        "40,000 won"
        in say(
            bot,
            PUBLIC,
            "How much do host families receive per night for a guest student?",
            markup=True,
        )["text"]
    )

    mark = bot.mark()
    bot.send_document(STAFF, "broken.pdf", b"%PDF-1.4 not really")
    prompt = reply_to(bot, STAFF, mark, markup=True)
    button = next(
        b["callback_data"]
        for row in prompt["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].endswith(":internal")
    )
    mark = bot.mark()
    bot.press_button(STAFF, prompt["message_id"], button)
    failed = upload_result(bot, STAFF, "broken.pdf", mark)
    assert "PDF" in failed["text"]

    mark = bot.mark()
    bot.send_document(STAFF, "photo.exe", b"MZ")
    assert (
        ".exe" in reply_to(bot, STAFF, mark)["text"]
        or "photo.exe" in reply_to(bot, STAFF, mark)["text"]
    )


def test_a_partner_only_upload_reaches_that_citys_officials_only(bot: BotApiEmulator) -> None:
    bien_hoa, riverton = 740, 750
    for user, name in ((bien_hoa, "Lan"), (riverton, "Rob")):
        bot.user(user, name, "en")
    make_partner(bot, bien_hoa, "Bien Hoa")
    make_partner(bot, riverton, "Riverton")
    body = (
        b"---\ntitle: Pilot memo\nlanguage: en\n---\n# Card readers\n\n"
        b"The card reader pilot installs 120 readers on route 12 in September.\n"
    )
    mark = bot.mark()
    bot.send_document(STAFF, "pilot-memo.md", body)
    prompt = reply_to(bot, STAFF, mark, markup=True)
    partner_button = next(d for _, d in buttons(prompt) if d.endswith(":partner"))
    edits = len(bot.edited)
    bot.press_button(STAFF, prompt["message_id"], partner_button)
    cities = bot.wait_for_edit(
        lambda r: r["chat_id"] == STAFF and r["message_id"] == prompt["message_id"], since=edits
    )
    offered = dict(buttons(cities))
    assert {"Bien Hoa", "Riverton", "Düsseldorf"} <= set(offered)
    mark = bot.mark()
    bot.press_button(STAFF, prompt["message_id"], offered["Bien Hoa"])
    upload_result(bot, STAFF, "pilot-memo.md", mark)

    question = "How many card readers does the pilot install on route 12?"
    for user, sees in ((bien_hoa, True), (riverton, False), (PUBLIC, False)):
        mark = bot.mark()
        bot.send_text(user, question)
        text = reply_to(bot, user, mark, markup=True)["text"]
        assert ("120 readers" in text) is sees, (user, text)
        if not sees:  # the unanswered question goes to staff, and the asker is told so
            bot.wait_for(
                lambda r, u=user: r["chat_id"] == u and "passed your question" in r["text"],
                since=mark,
            )


def test_a_ten_thousand_character_message_gets_a_clear_answer(bot: BotApiEmulator) -> None:
    text = say(bot, PUBLIC, "budget " * 1430)["text"]
    assert "too long" in text and "10010" in text


def test_unknown_command_is_explained(bot: BotApiEmulator) -> None:
    assert "/help" in say(bot, OTHER, "/frobnicate")["text"]


def test_a_vote_is_stored_and_counted_in_stats(bot: BotApiEmulator) -> None:
    answer = say(bot, STAFF, "How often is the Riverton agreement reviewed?", markup=True)
    up = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    edits = len(bot.edited)
    bot.press_button(STAFF, answer["message_id"], up)
    bot.wait_for_call("answerCallbackQuery")
    bot.wait_for_edit(
        lambda r: r["chat_id"] == STAFF and r["message_id"] == answer["message_id"], since=edits
    )
    assert not bot.message(STAFF, answer["message_id"]).get("reply_markup")
    stats = say(bot, STAFF, "/stats")["text"]
    assert "👍 1" in stats


def test_language_can_be_switched(bot: BotApiEmulator) -> None:
    assert "tiếng Việt" in say(bot, OTHER, "/language vi")["text"]
    assert "Vai trò" in say(bot, OTHER, "/whoami")["text"]


def test_language_buttons_switch_the_language(bot: BotApiEmulator) -> None:
    user = 720
    bot.user(user, "Mai", "en")
    offer = say(bot, user, "/language", markup=True)
    assert "Choose your language" in offer["text"]
    assert {data for _, data in buttons(offer)} == {"lang:ko", "lang:en", "lang:de", "lang:vi"}
    edits = len(bot.edited)
    bot.press_button(user, offer["message_id"], "lang:ko")
    edit = bot.wait_for_edit(
        lambda r: r["chat_id"] == user and r["message_id"] == offer["message_id"], since=edits
    )
    assert "한국어" in edit["text"]
    assert "권한" in say(bot, user, "/whoami")["text"]


def test_an_admin_revokes_a_partner_official(bot: BotApiEmulator) -> None:
    user = 730
    bot.user(user, "Ria", "en")
    make_partner(bot, user, "Riverton")
    assert (
        "13 May"
        in say(bot, user, "When does the Riverton delegation visit the water plant?", markup=True)[
            "text"
        ]
    )

    assert "Only an administrator" in say(bot, PUBLIC, f"/revoke {user}")["text"]
    assert "Usage: /revoke USER_ID" in say(bot, ADMIN, "/revoke someone")["text"]
    assert "no longer a partner official" in say(bot, ADMIN, f"/revoke {user}")["text"]
    assert "is not a partner official" in say(bot, ADMIN, f"/revoke {user}")["text"]

    assert "public" in say(bot, user, "/whoami")["text"]
    answer = say(
        bot, user, "When does the Riverton delegation visit the water plant?", markup=True
    )["text"]
    assert "13 May" not in answer, "the partner briefing is out of reach again"


def test_restart_keeps_roles_votes_and_documents(
    bot: BotApiEmulator, data_dir: Path, tmp_path: Path
) -> None:
    # the module's bot shares this database, and with it the inbox: an update stored by one
    # process may be answered by the other, so both talk to the same Telegram (emulator)
    emu = bot
    emu.user(800, "Rita", "en")
    proc = start_bot(emu, data_dir)
    joined = emu.mark()
    make_partner(emu, 800, "Riverton")
    # the welcome's second message, before the restart (either process may send it)
    emu.wait_for(lambda r: r["chat_id"] == 800 and "Hello Rita" in r.get("text", ""), since=joined)
    stop_bot(proc)

    proc = start_bot(emu, data_dir)
    try:
        mark = emu.mark()
        emu.send_text(800, "/whoami")
        role = emu.wait_for(
            lambda r: r["chat_id"] == 800 and "Your role" in r.get("text", ""), since=mark
        )
        assert "partner official" in role["text"]
        assert (
            "13 May"
            in say(
                emu,
                800,
                "When does the Riverton delegation visit the water plant?",
                markup=True,
            )["text"]
        )
    finally:
        stop_bot(proc)


def test_webhook_mode_checks_the_secret_token(data_dir: Path) -> None:
    import hashlib
    import json
    import socket
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot") as emu:
        emu.user(PUBLIC, "Pat", "en")
        env = bare_env()
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=emu.base_url,
            BOT_DATA_DIR=str(data_dir),
            TELEGRAM_WEBHOOK_URL="https://bot.example.org/tg",
            TELEGRAM_WEBHOOK_SECRET="s3cret-token",
            TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
            TELEGRAM_WEBHOOK_PORT=str(port),
            DATABASE_URL=DATABASES[data_dir],
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            # /healthz answers from the start, while the models load: no liveness probe kills it
            first = health(port, "/healthz", until=time.monotonic() + 60)
            assert first == (200, "starting"), first
            assert emu.calls_of("setWebhook") == [], "answered before the bot was set up"
            assert health(port, "/readyz", until=time.monotonic() + 5)[0] == 503
            hook = emu.wait_for_call("setWebhook", timeout=90)
            path = hashlib.sha256(TOKEN.encode()).hexdigest()[:32]
            assert hook["url"] == f"https://bot.example.org/tg/{path}"
            assert hook["secret_token"] == "s3cret-token"
            assert asked_for(hook) == HANDLED_UPDATES, "only the update types the bot handles"
            update = {
                "update_id": 9000,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": PUBLIC, "type": "private"},
                    "from": {"id": PUBLIC, "is_bot": False, "first_name": "Pat"},
                    "text": "/whoami",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                },
            }

            def post(secret: str) -> int:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/{path}",
                    data=json.dumps(update).encode(),
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": secret,
                    },
                )
                deadline = time.monotonic() + 30
                while True:
                    try:
                        with urllib.request.urlopen(request, timeout=5) as response:
                            return int(response.status)
                    except urllib.error.HTTPError as exc:
                        return exc.code
                    except OSError:  # the server may still be starting
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.3)

            assert post("wrong") == 403
            assert post("s3cret-token") == 200
            assert (
                "Your role: public"
                in emu.wait_for(lambda r: r["chat_id"] == PUBLIC, timeout=30)["text"]
            )
        finally:
            stop_bot(proc)


def health(port: int, path: str, until: float) -> tuple[int, str]:
    """Return the first answer of a health endpoint (status code, its "status"), polling it."""
    import json
    import time
    import urllib.error
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return int(response.status), json.loads(response.read())["status"]
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())["status"]
        except OSError:  # not listening yet
            if time.monotonic() > until:
                raise
            time.sleep(0.05)


def test_a_429_from_telegram_is_waited_out_and_the_answer_still_arrives(
    bot: BotApiEmulator,
) -> None:
    import time

    bot.rate_limit_next("sendMessage", retry_after=2)
    mark = bot.mark()
    started = time.monotonic()
    bot.send_text(OTHER, "How often is the Riverton agreement reviewed?")
    answer = reply_to(bot, OTHER, mark, markup=True)
    assert "three years" in answer["text"]
    assert time.monotonic() - started >= 2, "the bot honoured retry_after"
    assert any(e.get("error_code") == 429 for e in bot.errors)


def test_questions_beyond_the_per_user_limit_get_a_friendly_message(data_dir: Path) -> None:
    # another bot on the module's database: with the module bot's token, its process could
    # claim these updates from the shared inbox and answer them to the module's emulator (seen
    # once in a full run: nothing sent here in 60 s); an inbox is per bot
    token = "654321:LIMIT"
    with BotApiEmulator(token=token, bot_username="exchange_limit_bot") as emu:
        emu.user(PUBLIC, "Pat", "en")
        proc = start_bot(
            emu,
            data_dir,
            TELEGRAM_BOT_TOKEN=token,
            RATE_LIMIT_QUESTIONS="2",
            RATE_LIMIT_WINDOW_S="600",
        )
        try:
            for _ in range(3):
                emu.send_text(PUBLIC, "How often is the Riverton agreement reviewed?")
            emu.wait_for(
                lambda r: r["chat_id"] == PUBLIC and "faster than I can answer" in r["text"],
                timeout=60,
            )
        finally:
            stop_bot(proc)


def test_an_oversized_upload_is_refused_before_downloading(bot: BotApiEmulator) -> None:
    mark = bot.mark()
    bot.send_document(STAFF, "huge.pdf", b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024))
    assert "20" in reply_to(bot, STAFF, mark)["text"]  # the limit is named
    assert not any(c[0] == "getFile" and c[1].get("file_id") for c in bot.calls[-5:])


def test_a_failing_handler_tells_the_user_and_the_bot_keeps_working(bot: BotApiEmulator) -> None:
    mark = bot.mark()
    bot.fail_next("sendMessage", 400, "Bad Request: chat not found")  # the reply to /whoami fails
    bot.send_text(STAFF, "/whoami")
    apology = reply_to(bot, STAFF, mark)
    assert "went wrong" in apology["text"] or "문제가 발생" in apology["text"]
    assert "Traceback" not in apology["text"] and "BadRequest" not in apology["text"]
    say(bot, STAFF, "/whoami")


@pytest.mark.parametrize(
    "data",
    [
        "v:99999999999999999999:1",
        "sv:CODE:abc",
        "sv:",
        "m:p:abc",
        "m:w:99999999",
        "esc:ans:abc",
        "cur:1:partner",
    ],
)
def test_forged_button_data_gets_a_short_refusal_and_no_error(
    bot: BotApiEmulator, data: str
) -> None:
    message = say(bot, STAFF, "/whoami")
    mark = bot.mark()
    query = bot.press_button(STAFF, message["message_id"], data, check_markup=False)
    answer = bot.wait_for_call("answerCallbackQuery", lambda c: c["callback_query_id"] == query)
    assert "no longer valid" in answer.get("text", "") or "유효하지 않은" in answer.get("text", "")
    say(bot, STAFF, "/whoami")
    assert not [r for r in bot.sent[mark:] if "went wrong" in (r.get("text") or "")]


def test_a_database_of_the_release_of_2026_11_23_runs_and_its_partner_keeps_the_role(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(
        ROOT / "tests" / "fixtures" / "release-2026-11-23.sqlite3", data / "exchange_bot.sqlite3"
    )
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    emu.user(PARTNER, "Dana", "de")
    proc = start_bot(emu, data)
    try:
        whoami = say(emu, PARTNER, "/whoami")["text"]
        assert "Partner" in whoami and "Düsseldorf" in whoami
    finally:
        log = stop_bot(proc)
        emu.stop()
    assert "database upgraded from revision 0001" in log

"""Prove the Bot API emulator works with a real python-telegram-bot Bot/Application."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .emulator import BotApiEmulator, EntityParseError, parse_html


def make_bot(emu: BotApiEmulator, token: str | None = None) -> Bot:
    """Build a PTB Bot pointed at the emulator."""
    return Bot(token or emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)


@contextlib.asynccontextmanager
async def running_app(
    emu: BotApiEmulator, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run a polling PTB Application against the emulator and fail on handler errors."""
    app = (
        Application.builder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    errors: list[BaseException] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    for handler in handlers:
        app.add_handler(handler)
    app.add_error_handler(on_error)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    assert not errors, f"handler errors: {errors!r}"


# --------------------------------------------------------------------------- basic API


async def test_get_me(emulator: BotApiEmulator) -> None:
    """Answer getMe with the configured bot identity."""
    async with make_bot(emulator) as bot:
        me = await bot.get_me()
    assert me.username == "exchange_test_bot"
    assert me.id == 123456
    assert me.is_bot
    assert emulator.calls_of("getMe")


async def test_wrong_token_is_unauthorized(emulator: BotApiEmulator) -> None:
    """Reject a token the emulator was not created with."""
    with pytest.raises(InvalidToken):
        async with make_bot(emulator, token="999:WRONG") as bot:
            await bot.get_me()


def test_unknown_method_and_sync_http_access(emulator: BotApiEmulator) -> None:
    """Serve plain synchronous HTTP and 404 unknown methods."""
    with urllib.request.urlopen(f"{emulator.base_url}{emulator.token}/getMe") as resp:
        assert json.load(resp)["result"]["username"] == "exchange_test_bot"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{emulator.base_url}{emulator.token}/fooBar", data=b"")
    assert info.value.code == 404
    assert json.load(info.value) == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


# --------------------------------------------------------------------------- polling flow


async def test_message_update_and_handler_reply(emulator: BotApiEmulator) -> None:
    """Deliver a message via polling and record the handler's replies."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.message is not None
        await context.bot.send_chat_action(update.message.chat_id, "typing")
        await update.message.reply_html(
            f"Hello, <b>{update.effective_user.first_name}</b> &amp; welcome!",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Rates", callback_data="rates")]]
            ),
            do_quote=True,
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text.upper())

    emulator.user(42, first_name="Ann", language_code="ru")
    async with running_app(
        emulator,
        CommandHandler("start", start),
        MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
    ):
        emulator.send_text(42, "/start")
        reply = await emulator.await_for(lambda r: r["chat_id"] == 42, timeout=10)
        assert reply["text"] == "Hello, Ann & welcome!"
        assert reply["raw_text"] == "Hello, <b>Ann</b> &amp; welcome!"
        assert reply["parse_mode"] == "HTML"
        assert reply["entities"] == [{"type": "bold", "offset": 7, "length": 3}]
        assert reply["reply_markup"] == {
            "inline_keyboard": [[{"text": "Rates", "callback_data": "rates"}]]
        }
        assert reply["reply_to_message_id"] == 1
        assert emulator.calls_of("sendChatAction")[0]["action"] == "typing"

        mark = emulator.mark()
        emulator.send_text(42, "hello there")
        echoed = await emulator.await_for(lambda r: r["chat_id"] == 42, since=mark, timeout=10)
        assert echoed["text"] == "HELLO THERE"
        assert [r["text"] for r in emulator.messages_to(42)] == [
            "Hello, Ann & welcome!",
            "HELLO THERE",
        ]
    assert emulator.updates_confirmed()


async def test_callback_button_press(emulator: BotApiEmulator) -> None:
    """Deliver a button press and record the answer and the edit."""

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Loading…")
        await query.edit_message_text(f"You chose <i>{query.data}</i>", parse_mode=ParseMode.HTML)

    emulator.user(7)
    async with running_app(emulator, CallbackQueryHandler(on_button)) as app:
        sent = await app.bot.send_message(
            7,
            "Pick one",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("USD", callback_data="cur:USD")]]
            ),
        )
        query_id = emulator.press_button(7, sent.message_id, "cur:USD")
        answer = await emulator.await_call("answerCallbackQuery", timeout=10)
        assert answer["callback_query_id"] == query_id
        assert answer["text"] == "Loading…"
        edit = await emulator.await_edit(timeout=10)
        assert edit["text"] == "You chose cur:USD"
        assert edit["reply_markup"] is None  # keyboard removed because none was passed
        record = emulator.messages_to(7)[0]
        assert record["edited"] and record["text"] == "You chose cur:USD"
        assert record["history"][0]["text"] == "Pick one"
        stored = emulator.message(7, sent.message_id)
        assert stored is not None and "reply_markup" not in stored

        with pytest.raises(AssertionError, match=r"(?i)no inline button"):
            emulator.press_button(7, sent.message_id, "cur:USD")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await app.bot.edit_message_text(
                "You chose <i>cur:USD</i>", 7, sent.message_id, parse_mode=ParseMode.HTML
            )


async def test_document_upload_getfile_download_roundtrip(emulator: BotApiEmulator) -> None:
    """Round-trip a document through getFile, download and sendDocument."""

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.document is not None
        file = await update.message.document.get_file()
        data = bytes(await file.download_as_bytearray())
        await update.message.reply_document(
            data.upper(), filename="result.csv", caption=f"{len(data)} bytes"
        )

    content = b"currency,rate\nusd,1.0\n\xff\x00binary\r\n--tail"
    async with running_app(emulator, MessageHandler(filters.Document.ALL, on_document)) as app:
        emulator.send_document(5, "rates.csv", content, caption="please convert")
        reply = await emulator.await_for(lambda r: r["method"] == "sendDocument", timeout=10)
        assert reply["document"] == content.upper()
        assert reply["filename"] == "result.csv"
        assert reply["text"] == reply["caption"] == f"{len(content)} bytes"
        assert emulator.calls_of("getFile")

        # The bot can fetch the file it just sent, too.
        file = await app.bot.get_file(reply["file_id"])
        assert bytes(await file.download_as_bytearray()) == content.upper()

        png = (
            b"\x89PNG\r\n\x1a\n"
            + b"\x00\x00\x00\rIHDR"
            + (640).to_bytes(4, "big")
            + (480).to_bytes(4, "big")
            + b"\x08\x02\x00\x00\x00"
        )
        message = await app.bot.send_photo(5, png, caption="<b>chart</b>", parse_mode="HTML")
        assert message.photo[-1].width == 640 and message.caption == "chart"
        assert emulator.messages_to(5)[-1]["document"] == png
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        async with make_bot(emulator) as bot:
            await bot.get_file("nope")


# --------------------------------------------------------------------------- error emulation


async def test_rate_limit_retry_after(emulator: BotApiEmulator) -> None:
    """Fail the next call with 429 and retry_after, then succeed."""
    emulator.user(9)
    emulator.rate_limit_next("sendMessage", retry_after=3)
    async with make_bot(emulator) as bot:
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(9, "hi")
        assert info.value.retry_after in (3, __import__("datetime").timedelta(seconds=3))
        await bot.send_message(9, "hi again")
    assert [r["text"] for r in emulator.sent] == ["hi again"]
    assert emulator.errors[0]["error_code"] == 429


async def test_blocked_user_is_forbidden(emulator: BotApiEmulator) -> None:
    """Refuse sends to a blocked user (403) and to unknown chats (400)."""
    emulator.user(11)
    emulator.block(11)
    async with make_bot(emulator) as bot:
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(11, "hi")
        with pytest.raises(Forbidden):
            await bot.send_chat_action(11, "typing")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(12345, "never talked to the bot")
    assert emulator.sent == []


@pytest.mark.parametrize(
    ("text", "parse_mode", "error"),
    [
        ("", None, "message text is empty"),
        ("   \n", None, "message text is empty"),
        ("<b></b>", "HTML", "message text is empty"),
        ("x" * 4097, None, "message is too long"),
        ("<b>" + "x" * 4097 + "</b>", "HTML", "message is too long"),
        ("<b>bold", "HTML", "can't parse entities: Can't find end tag"),
        ("<b><i>x</b></i>", "HTML", "can't parse entities: Unmatched end tag"),
        ("<br>", "HTML", 'can\'t parse entities: Unsupported start tag "br"'),
        ("1 < 2", "HTML", "can't parse entities: Unsupported start tag"),
        ("Q&A", "HTML", "can't parse entities"),
        ("&nbsp;", "HTML", "can't parse entities: Unsupported HTML entity"),
        ("</b>", "HTML", "can't parse entities: Unexpected end tag"),
        ('<span class="x">a</span>', "HTML", "can't parse entities"),
    ],
)
async def test_send_message_validation(
    emulator: BotApiEmulator, text: str, parse_mode: str | None, error: str
) -> None:
    """Reject invalid texts like Telegram does."""
    emulator.user(1)
    async with make_bot(emulator) as bot:
        with pytest.raises(BadRequest, match=r"(?i)" + re.escape(error)):
            await bot.send_message(1, text, parse_mode=parse_mode)
    assert emulator.sent == []


async def test_send_message_limits_count_text_after_entity_parsing(
    emulator: BotApiEmulator,
) -> None:
    """Count length after HTML parsing; validate markup and commands."""
    emulator.user(1)
    long_html = "<b>" + "&lt;" * 4096 + "</b>"
    async with make_bot(emulator) as bot:
        message = await bot.send_message(1, long_html, parse_mode="HTML")
        assert message.text == "<" * 4096
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                1,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="d" * 65)]]
                ),
            )
        await bot.set_my_commands([("rate", "Show a rate"), ("start", "Start")])
        assert [c.command for c in await bot.get_my_commands()] == ["rate", "start"]
        await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
    assert emulator.sent[0]["raw_text"] == long_html


def test_parse_html_entities_use_utf16_offsets() -> None:
    """Build entities with UTF-16 offsets and report byte offsets."""
    plain, entities = parse_html(
        '💶 <b>EUR</b> → <a href="https://x.test/?a=1&amp;b=2">link</a>\n'
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>s</tg-spoiler>'
    )
    assert plain == "💶 EUR → link\nx = 1s"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "text_link", "offset": 9, "length": 4, "url": "https://x.test/?a=1&b=2"},
        {"type": "pre", "offset": 14, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 19, "length": 1},
    ]
    with pytest.raises(EntityParseError, match="byte offset 5"):
        parse_html("💶 <x>")


def test_wait_for_timeout_dumps_recent_records(emulator: BotApiEmulator) -> None:
    """Fail wait_for quickly with a dump of recent sent records."""
    emulator.user(3)
    req = urllib.request.Request(
        f"{emulator.base_url}{emulator.token}/sendMessage",
        data=json.dumps({"chat_id": 3, "text": "some reply"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?i)some reply"):
        emulator.wait_for(lambda r: r["text"] == "other", timeout=0.3)
    assert time.monotonic() - start < 2


def test_long_poll_blocks_until_update_and_honours_offset(emulator: BotApiEmulator) -> None:
    """Block getUpdates up to its timeout and confirm via offset."""
    url = f"{emulator.base_url}{emulator.token}/getUpdates"

    def get_updates(**params: Any) -> list[dict[str, Any]]:
        req = urllib.request.Request(
            url, data=json.dumps(params).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req) as resp:
            result: list[dict[str, Any]] = json.load(resp)["result"]
            return result

    start = time.monotonic()
    assert get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - start < 1.9
    emulator.send_text(
        8, "/start@exchange_test_bot hi @exchange_test_bot", chat_id=-100, chat_type="group"
    )
    updates = get_updates(timeout=1)
    assert [u["message"]["text"][:6] for u in updates] == ["/start"]
    assert updates[0]["message"]["chat"]["type"] == "group"
    assert [e["type"] for e in updates[0]["message"]["entities"]] == ["bot_command", "mention"]
    assert not emulator.updates_confirmed()
    assert get_updates(offset=updates[0]["update_id"] + 1, timeout=0) == []
    assert emulator.updates_confirmed()


def test_bot_in_subprocess(emulator: BotApiEmulator, tmp_path: Any) -> None:
    """Serve a PTB bot running in a separate process."""
    script = tmp_path / "bot.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            from telegram.ext import Application, CommandHandler

            async def start(update, context):
                await update.message.reply_text("pong from subprocess")

            app = (
                Application.builder()
                .token(os.environ["BOT_TOKEN"])
                .base_url(os.environ["TELEGRAM_API_BASE_URL"])
                .base_file_url(os.environ["TELEGRAM_API_BASE_FILE_URL"])
                .build()
            )
            app.add_handler(CommandHandler("ping", start))
            app.run_polling(poll_interval=0.0, timeout=1)
            """
        )
    )
    env = {
        **os.environ,
        "BOT_TOKEN": emulator.token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "TELEGRAM_API_BASE_FILE_URL": emulator.base_file_url,
    }
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.monotonic() + 15
        while not emulator.calls_of("getUpdates"):
            assert proc.poll() is None, "bot subprocess exited before polling"
            assert time.monotonic() < deadline, "bot subprocess never started polling"
            time.sleep(0.05)
        emulator.send_text(77, "/ping")
        record = emulator.wait_for(lambda r: r["chat_id"] == 77, timeout=10)
        assert record["text"] == "pong from subprocess"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

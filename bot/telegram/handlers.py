"""Telegram handlers: each parses the update, calls one use case off the event loop, renders."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Callable
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.app.core import App
from bot.app.messages import TEXT_LIMIT, Actor, Out, Reply, split_text
from bot.telegram.draft import GROUP_INTERVAL_S, TelegramDraft
from bot.telegram.outbox import TelegramOutbox, keyboard, markup, send
from bot.telegram.rendering import render_answer, render_sources

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


def application(context: Context) -> App:
    """Return the application the bot was built with."""
    found: App = context.application.bot_data["app"]
    return found


def outbox(context: Context) -> TelegramOutbox:
    """Return the outbox that sends the application's messages."""
    found: TelegramOutbox = context.application.bot_data["outbox"]
    return found


async def call(run: Callable[..., Reply], *args: Any) -> Reply:
    """Run a use case in a worker thread: retrieval, the LLM and the database never block."""
    return await asyncio.to_thread(run, *args)


def actor(update: Update) -> Actor | None:
    """Return who acts and where, or None for an update without a person (a channel post)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return Actor(
        user.id,
        chat.id,
        chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
        user.first_name or "",
        user.username or "",
        user.language_code or "",
    )


# ---------------------------------------------------------------- what people do


async def command(update: Update, context: Context) -> None:
    """Run any /command (in groups only one addressed to this bot, or to no bot)."""
    message, who = update.effective_message, actor(update)
    if message is None or message.text is None or who is None:
        return
    head, _, args = message.text.partition(" ")
    name, _, target = head[1:].partition("@")
    if target and target.lower() != (context.bot.username or "").lower():
        return  # another bot's command in a group
    await show(update, context, await call(application(context).command, who, name, args.strip()))


async def text(update: Update, context: Context) -> None:
    """Route a plain message (a question, a meeting sentence, a reply to a prompt)."""
    message, who = update.effective_message, actor(update)
    if message is None or message.text is None or who is None:
        return
    replied = message.reply_to_message
    question = _addressed(message, context) if who.in_group else message.text
    reply_to = replied.message_id if replied is not None else None
    app = application(context)
    if question is None:  # group chatter: only a staff answer to an escalation post counts
        if not await asyncio.to_thread(app.webinars.is_staff_reply, who, reply_to):
            return
        question = message.text
    loop, chat_id = asyncio.get_running_loop(), who.chat_id

    def working() -> None:
        # "typing" only for a question being answered: one per message, refused ones included,
        # would spend the bot's global send budget on a flood
        asyncio.run_coroutine_threadsafe(_typing(context, chat_id), loop)

    interval = app.services.settings.stream_edit_interval_s
    draft = TelegramDraft(
        context.bot,
        loop,
        chat_id,
        message,
        max(interval, GROUP_INTERVAL_S) if who.in_group else interval,
    )
    try:
        reply = await call(app.text, who, question, reply_to, working, draft)
    finally:
        await draft.close()  # a failed use case leaves no send or edit running
    await show(update, context, reply, draft)


async def _typing(context: Context, chat_id: int) -> None:
    with contextlib.suppress(TelegramError):  # a hint only: its failure changes nothing
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)


async def document(update: Update, context: Context) -> None:
    """Take a file sent in a private chat."""
    message, who = update.effective_message, actor(update)
    if message is None or message.document is None or who is None or who.in_group:
        return
    doc = message.document
    reply = await call(
        application(context).document, who, doc.file_id, doc.file_name or "", doc.file_size or 0
    )
    await show(update, context, reply)


async def button(update: Update, context: Context) -> None:
    """Handle any inline button by the flow or object its data names."""
    query, who = update.callback_query, actor(update)
    if query is None or who is None:
        return
    shown = query.message.text if isinstance(query.message, Message) else ""
    reply = await call(
        application(context).button, who, query.data or "", shown or "", outbox(context)
    )
    # a press waited on too long (a busy or restarted bot) can no longer be answered; what the
    # press did stands, and the rest of the reply still goes out
    with contextlib.suppress(BadRequest):
        await query.answer(reply.toast or None, show_alert=reply.alert)
    if reply.edit is not None:
        with contextlib.suppress(BadRequest):  # the same text again, or a message gone
            await query.edit_message_text(
                html.escape(reply.edit.text),
                parse_mode=ParseMode.HTML,
                reply_markup=markup(reply.edit.buttons),
            )
    elif reply.remove_buttons:
        with contextlib.suppress(BadRequest):  # already removed by an earlier press
            await query.edit_message_reply_markup(reply_markup=None)
    await show(update, context, Reply(messages=reply.messages))


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its update id; tell the person something went wrong, no details."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type == ChatType.CHANNEL:
        return  # never post into a channel
    user = update.effective_user
    try:
        apology = await asyncio.to_thread(application(context).error, user.id if user else None)
        await context.bot.send_message(
            update.effective_chat.id, html.escape(apology), parse_mode=ParseMode.HTML
        )
    except Exception:  # the error may be that we cannot send, or reach the database, at all
        log.warning("could not tell chat %s about the error", update.effective_chat.id)


# ---------------------------------------------------------------- rendering a reply


async def show(
    update: Update, context: Context, reply: Reply, draft: TelegramDraft | None = None
) -> None:
    """Send a reply's messages into the update's chat (an answer drafted while it was written
    becomes the drafted message)."""
    chat = update.effective_chat
    if chat is None:
        return
    message = update.effective_message if update.callback_query is None else None
    for out in reply.messages:
        await _show_one(context, chat.id, message, out, draft)


async def _show_one(
    context: Context,
    chat_id: int,
    message: Message | None,
    out: Out,
    draft: TelegramDraft | None = None,
) -> None:
    if out.file is not None:
        await send(context.bot, out.chat_id or chat_id, out)
        return
    if out.answer is not None:
        bodies = render_answer(out.answer)
        if out.draft and draft is not None and await draft.finish(bodies, keyboard(out)):
            return
    elif out.sources is not None:
        bodies = render_sources(*out.sources)
    else:  # plain text, split should it be too long for one message
        bodies = [html.escape(piece) for piece in split_text(out.text, TEXT_LIMIT)]
    for i, body in enumerate(bodies):
        under = keyboard(out) if i == len(bodies) - 1 else None
        options: dict[str, Any] = {"parse_mode": ParseMode.HTML, "reply_markup": under}
        if out.answer is not None:  # a cited answer, not a preview of a link in it
            options["disable_web_page_preview"] = True
        if message is not None:  # a reply (quoted in groups, as PTB does)
            # the message may be deleted meanwhile: then the answer goes out unquoted
            await message.reply_text(body, allow_sending_without_reply=True, **options)
        else:
            await context.bot.send_message(chat_id, body, **options)


def _addressed(message: Message, context: Context) -> str | None:
    """Return the question in a group message meant for the bot (a mention or a reply), else None."""
    body = message.text or ""
    mention = f"@{(context.bot.username or '').lower()}"
    mentioned = any(
        entity.type == "mention"
        and body[entity.offset : entity.offset + entity.length].lower() == mention
        for entity in message.entities
    )
    replied = message.reply_to_message
    to_bot = (
        replied is not None
        and replied.from_user is not None
        and replied.from_user.id == context.bot.id
    )
    if not (mentioned or to_bot):
        return None
    return re.sub(re.escape(mention), "", body, flags=re.I).strip()

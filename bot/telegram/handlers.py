"""Handlers: one per thing a user does; each parses the update, calls one service, renders the reply."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import secrets
from pathlib import Path

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest

from bot.accounts.service import GroupLevel, InviteError, Person
from bot.domain import Role, Visibility
from bot.followup.webinars import WebinarError, code_from_payload
from bot.i18n import LANGUAGES, t
from bot.knowledge.ingest import IngestReport
from bot.knowledge.loaders import is_supported
from bot.telegram import webinars
from bot.telegram.common import (
    Context,
    is_group,
    refuse_if_not_allowed,
    reply,
    require_admin,
    require_staff,
    sender,
    services,
)
from bot.telegram.rendering import render_answer, render_sources

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"ko": "한국어", "en": "English", "de": "Deutsch", "vi": "Tiếng Việt"}


# ---------------------------------------------------------------- conversation


async def start(update: Update, context: Context) -> None:
    """Greet in the user's language, say what their role allows; handle deep-link payloads."""
    person = sender(update, context)
    payload = context.args[0] if context.args else ""
    if payload.startswith("join_"):
        try:
            city = services(context).accounts.redeem(payload.removeprefix("join_"), person.user_id)
        except InviteError as exc:
            await reply(update, t(exc.reason, person.language))
            return
        log.info("user %s joined as partner of %s", person.user_id, city)
        person = services(context).accounts.person(person.user_id)
        await reply(update, t("invite_welcome", person.language, city=city))
    webinar_code = code_from_payload(payload)
    if webinar_code is not None:
        # attendees come from the closing slide: they may ask even when public access is off
        await webinars.join(update, context, person, webinar_code)
        return
    if await refuse_if_not_allowed(update, context, person):
        return
    user = update.effective_user
    name = user.first_name if user and user.first_name else ""
    lines = [
        t("start", person.language, name=name),
        _capabilities(person),
        t("help_common", person.language),
    ]
    await reply(update, "\n\n".join(lines))


def _capabilities(person: Person, attendee: bool = False) -> str:
    if person.role is Role.STAFF:
        return t("cap_staff", person.language)
    if person.role is Role.PARTNER:
        return t("cap_partner", person.language, city=person.partner)
    return t("cap_attendee" if attendee else "cap_public", person.language)


async def help_command(update: Update, context: Context) -> None:
    """List what this user can do."""
    person = sender(update, context)
    if await refuse_if_not_allowed(update, context, person):
        return
    attendee, _ = webinars.attendee_asker(context, person)
    lines = [_capabilities(person, attendee is not None), t("help_common", person.language)]
    if person.role is Role.STAFF:
        lines.append(t("help_staff", person.language))
    if person.is_admin:
        lines.append(t("help_admin", person.language))
    if is_group(update):
        lines.append(t("group_hint", person.language))
    await reply(update, "\n\n".join(lines))


async def whoami(update: Update, context: Context) -> None:
    """Show the user's role, partner city and language."""
    person = sender(update, context)
    lang = person.language
    await reply(
        update,
        t(
            "whoami",
            lang,
            role=t(f"role_{person.role.value}", lang),
            city=person.partner or t("none", lang),
            language=LANGUAGE_NAMES[lang],
        ),
    )


async def language(update: Update, context: Context) -> None:
    """Set the language from an argument, or offer buttons."""
    person = sender(update, context)
    choice = context.args[0].lower()[:2] if context.args else ""
    if choice in LANGUAGES:
        services(context).accounts.set_language(person.user_id, choice)
        await reply(update, t("language_set", choice))
        return
    buttons = [
        [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=f"lang:{code}")]
        for code in LANGUAGES
    ]
    await reply(
        update, t("language_choose", person.language), reply_markup=InlineKeyboardMarkup(buttons)
    )


async def language_button(update: Update, context: Context) -> None:
    """Store the language picked with a button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.split(":", 1)[1]
    if code not in LANGUAGES:
        await query.answer()
        return
    services(context).accounts.set_language(query.from_user.id, code)
    await query.answer()
    await query.edit_message_text(html.escape(t("language_set", code)), parse_mode=ParseMode.HTML)


async def sources(update: Update, context: Context) -> None:
    """Show the documents behind the user's last answer in this chat."""
    person = sender(update, context)
    chat = update.effective_chat
    assert chat is not None
    last = services(context).feedback.last_answer(person.user_id, chat.id)
    if last is None or not last.sources:
        await reply(update, t("sources_none", person.language))
        return
    for text in render_sources(last.question, last.sources, person.language):
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)  # type: ignore[union-attr]


# ---------------------------------------------------------------- questions


def _addressed_to_bot(update: Update, context: Context) -> str | None:
    """Return the question in a message meant for the bot (groups: mention or reply), else None."""
    message = update.effective_message
    if message is None or message.text is None:
        return None
    text = message.text
    if not is_group(update):
        return text
    username = (context.bot.username or "").lower()
    mention = f"@{username}"
    mentioned = any(
        entity.type == "mention"
        and text[entity.offset : entity.offset + entity.length].lower() == mention
        for entity in message.entities
    )
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == context.bot.id
    )
    if not (mentioned or replied):
        return None
    return re.sub(re.escape(mention), "", text, flags=re.I).strip()


async def question(update: Update, context: Context) -> None:
    """Answer a question with the same Answerer as the command line, with sources and vote buttons."""
    text = _addressed_to_bot(update, context)
    if text is None:
        return  # group chatter not meant for the bot
    person = sender(update, context)
    attendee, closed = (
        webinars.attendee_asker(context, person) if not is_group(update) else (None, False)
    )
    if closed:
        await reply(update, t("webinar_closed", person.language))
        return
    if attendee is None and await refuse_if_not_allowed(update, context, person):
        return
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    if not text.strip():
        await reply(update, t("help_common", person.language))
        return
    limit = svc.settings.max_question_chars
    if len(text) > limit:
        await reply(update, t("question_too_long", person.language, length=len(text), limit=limit))
        return
    wait = svc.question_limiter.check(person.user_id)
    if wait:
        await reply(update, t("rate_limited", person.language, seconds=max(1, round(wait))))
        return
    asker = attendee or svc.accounts.asker_in_chat(person, chat.id, is_group(update))
    await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
    answer = await asyncio.to_thread(svc.answerer.answer, text, asker)
    answer_id = svc.feedback.log(person.user_id, chat.id, asker, answer)
    log.info(
        "answered update %s: grounded=%s sources=%d %.0f ms",
        update.update_id,
        answer.grounded,
        len(answer.citations),
        answer.latency_ms,
    )
    messages = render_answer(answer)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"v:{answer_id}:1"),
                InlineKeyboardButton("👎", callback_data=f"v:{answer_id}:-1"),
            ]
        ]
    )
    for i, body in enumerate(messages):
        last = i == len(messages) - 1
        await update.effective_message.reply_text(  # type: ignore[union-attr]
            body,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard if last else None,
            disable_web_page_preview=True,
        )
    # what the bot cannot answer goes to the office; the asker hears back in this chat
    unanswered = not answer.grounded and person.role is not Role.STAFF and not is_group(update)
    if unanswered and await webinars.escalate(context, answer_id, "ungrounded"):
        await reply(update, t("escalated", person.language))


async def vote(update: Update, context: Context) -> None:
    """Store a 👍/👎 on an answer and take the buttons away."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = services(context).accounts.person(query.from_user.id)
    answer_id, value = "0", "0"
    try:
        _, answer_id, value = query.data.split(":")
        accepted = services(context).feedback.vote(int(answer_id), query.from_user.id, int(value))
    except ValueError:
        accepted = False
    await query.answer(t("vote_thanks" if accepted else "vote_not_yours", person.language))
    downvoted = accepted and value == "-1" and person.role is not Role.STAFF
    if downvoted and await webinars.escalate(context, int(answer_id), "downvote"):
        await context.bot.send_message(
            query.from_user.id,
            html.escape(t("escalated", person.language)),
            parse_mode=ParseMode.HTML,
        )
    if accepted:
        with contextlib.suppress(BadRequest):  # already removed by an earlier press
            await query.edit_message_reply_markup(reply_markup=None)


# ---------------------------------------------------------------- admin


async def invite(update: Update, context: Context) -> None:
    """Create a one-time partner invite link (admins)."""
    person = sender(update, context)
    if not await require_admin(update, person):
        return
    city = " ".join(context.args or [])
    if not city:
        await reply(update, t("invite_usage", person.language))
        return
    created = services(context).accounts.create_invite(city, person.user_id)
    link = f"https://t.me/{context.bot.username}?start=join_{created.code}"
    expires = created.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    await reply(
        update, t("invite_created", person.language, city=created.city, link=link, expires=expires)
    )


async def partners(update: Update, context: Context) -> None:
    """List registered partner officials (admins)."""
    person = sender(update, context)
    if not await require_admin(update, person):
        return
    rows = services(context).accounts.partners()
    if not rows:
        await reply(update, t("partners_none", person.language))
        return
    lines = [t("partners_header", person.language)]
    lines += [
        f"{uid} · {name or '-'} · {city} · {since:%Y-%m-%d}"
        if since
        else f"{uid} · {name} · {city}"
        for uid, name, city, since in rows
    ]
    await reply(update, "\n".join(lines))


async def revoke(update: Update, context: Context) -> None:
    """Remove a user's partner role (admins)."""
    person = sender(update, context)
    if not await require_admin(update, person):
        return
    if not context.args or not context.args[0].lstrip("-").isdigit():
        await reply(update, t("revoke_usage", person.language))
        return
    user_id = int(context.args[0])
    done = services(context).accounts.revoke(user_id)
    await reply(update, t("revoke_done" if done else "revoke_none", person.language, user=user_id))


async def grouplevel(update: Update, context: Context) -> None:
    """Set what a group may be shown (admins, in the group)."""
    person = sender(update, context)
    if not await require_admin(update, person):
        return
    args = context.args or []
    if not is_group(update) or not args or args[0].lower() not in {lvl.value for lvl in GroupLevel}:
        await reply(update, t("grouplevel_usage", person.language))
        return
    level = GroupLevel(args[0].lower())
    city = " ".join(args[1:]) or None
    chat = update.effective_chat
    assert chat is not None
    services(context).accounts.set_group_level(chat.id, level, city, person.user_id)
    await reply(
        update,
        t("grouplevel_set", person.language, level=level.value, city=f" ({city})" if city else ""),
    )


# ---------------------------------------------------------------- staff


async def stats(update: Update, context: Context) -> None:
    """Show usage statistics (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    data = services(context).feedback.stats(days=7)
    lang = person.language
    lines = [
        t(
            "stats",
            lang,
            **{k: data[k] for k in ("days", "total", "answered", "declined", "up", "down")},
        )
    ]
    per_role: dict[str, dict[str, int]] = data["per_role"]  # type: ignore[assignment]
    per_day: dict[str, dict[str, int]] = data["per_day"]  # type: ignore[assignment]
    if per_role:
        lines.append(t("stats_roles", lang))
        lines += [f"  {role}: {_counts(c)}" for role, c in per_role.items()]
    if per_day:
        lines.append(t("stats_days", lang))
        lines += [f"  {day}: {_counts(c)}" for day, c in per_day.items()]
    top: list[tuple[str, int]] = data["top_sources"]  # type: ignore[assignment]
    if top:
        lines.append(t("stats_top", lang))
        lines += [f"  {title} ({n})" for title, n in top]
    await reply(update, "\n".join(lines))


def _counts(c: dict[str, int]) -> str:
    return f"✔ {c.get('answered', 0)} · ✘ {c.get('declined', 0)} · 👍 {c.get('up', 0)} · 👎 {c.get('down', 0)}"


async def document(update: Update, context: Context) -> None:
    """Take a file from staff: check it, then ask who may see it."""
    message = update.effective_message
    if message is None or message.document is None or (is_group(update)):
        return
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    doc = message.document
    name = Path(doc.file_name or "document").name
    settings = services(context).settings
    if (doc.file_size or 0) > settings.max_upload_mb * 1024 * 1024:
        await reply(update, t("upload_too_large", person.language, limit=settings.max_upload_mb))
        return
    if not is_supported(Path(name)):
        await reply(update, t("upload_unsupported", person.language, name=name))
        return
    token = secrets.token_hex(4)
    context.user_data.setdefault("uploads", {})[token] = {"file_id": doc.file_id, "name": name}  # type: ignore[union-attr]
    buttons = [
        [
            InlineKeyboardButton(
                t(f"vis_{v.value}", person.language), callback_data=f"up:{token}:{v.value}"
            )
        ]
        for v in Visibility
    ]
    buttons += [
        [
            InlineKeyboardButton(
                t("webinar_option", person.language, title=w.title[:40]),
                callback_data=f"up:{token}:webinar:{w.code}",
            )
        ]
        for w in services(context).webinars.list(open_only=True)
    ]
    await reply(
        update,
        t("upload_visibility", person.language, name=name),
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def upload_visibility(update: Update, context: Context) -> None:
    """Handle the visibility (and partner city) buttons of an upload, then ingest the file."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = services(context).accounts.person(query.from_user.id)
    await query.answer()
    if person.role is not Role.STAFF:
        return
    parts = query.data.split(":")
    pending = (context.user_data or {}).get("uploads", {}).get(parts[1])
    if pending is None:
        await query.edit_message_text(
            html.escape(t("upload_expired", person.language)), parse_mode=ParseMode.HTML
        )
        return
    if parts[2] == "webinar":
        await _attach_to_webinar(query, context, person, pending, parts[1], parts[3])
        return
    visibility = Visibility(parts[2])
    if visibility is Visibility.PARTNER and len(parts) == 3:
        cities = _partner_names(context)
        rows = [
            [InlineKeyboardButton(c, callback_data=f"up:{parts[1]}:partner:{i}")]
            for i, c in enumerate(cities)
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    t("upload_all_partners", person.language),
                    callback_data=f"up:{parts[1]}:partner:-",
                )
            ]
        )
        await query.edit_message_text(
            html.escape(t("upload_partner", person.language, name=pending["name"])),
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return
    partner = ""
    if len(parts) == 4 and parts[3] != "-":
        cities = _partner_names(context)
        partner = (
            cities[int(parts[3])] if parts[3].isdigit() and int(parts[3]) < len(cities) else ""
        )
    context.user_data["uploads"].pop(parts[1], None)  # type: ignore[index]
    await context.bot.send_chat_action(query.message.chat.id, ChatAction.TYPING)  # type: ignore[union-attr]
    svc = services(context)
    target = await _download(context, pending, svc.settings.bot_data_dir / "uploads")
    overrides = {"visibility": visibility.value, "partner": partner}
    report = await asyncio.to_thread(svc.ingestor.ingest, [target], visibility, None, overrides)
    label = t(f"vis_{visibility.value}", person.language) + (f" · {partner}" if partner else "")
    await _upload_result(query, person, pending["name"], report, label)


async def _upload_result(
    query: CallbackQuery, person: Person, name: str, report: IngestReport, label: str
) -> None:
    """Log an upload's ingest and tell the uploader: chunks and who may see them, or why not."""
    if report.failed:
        text = t("upload_failed", person.language, name=name, reason=report.failed[0][1])
    else:
        text = t("upload_done", person.language, name=name, chunks=report.chunks, visibility=label)
    log.info(
        "upload by %s: %s chunks=%d failed=%d",
        person.user_id,
        name,
        report.chunks,
        len(report.failed),
    )
    await query.edit_message_text(html.escape(text), parse_mode=ParseMode.HTML)


async def _download(context: Context, pending: dict[str, str], folder: Path) -> Path:
    """Fetch an uploaded file into a folder of the data dir."""
    target = folder / pending["name"]
    target.parent.mkdir(parents=True, exist_ok=True)
    file = await context.bot.get_file(pending["file_id"])
    await file.download_to_drive(target)
    return target


async def _attach_to_webinar(
    query: CallbackQuery,
    context: Context,
    person: Person,
    pending: dict[str, str],
    token: str,
    code: str,
) -> None:
    """Ingest an upload as a webinar document (for that webinar's attendees)."""
    context.user_data["uploads"].pop(token, None)  # type: ignore[index]
    svc = services(context)
    path = await _download(context, pending, svc.settings.bot_data_dir / "uploads" / "webinars")
    try:
        report = await asyncio.to_thread(svc.webinars.attach, code, path, svc.ingestor, "public")
    except WebinarError as exc:
        await query.edit_message_text(
            html.escape(t(exc.reason, person.language)), parse_mode=ParseMode.HTML
        )
        return
    label = t("webinar_option", person.language, title=code)
    await _upload_result(query, person, pending["name"], report, label)


# ---------------------------------------------------------------- fallbacks


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot does not know (in groups only when addressed to this bot)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split()[0]
    if (
        is_group(update)
        and "@" in command
        and not command.lower().endswith(f"@{(context.bot.username or '').lower()}")
    ):
        return
    person = sender(update, context)
    await reply(update, t("unknown_command", person.language))


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its update id; tell the user something went wrong, without details."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error handling update %s", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        lang = "en"
        if update.effective_user is not None:
            lang = services(context).accounts.person(update.effective_user.id).language
        try:
            await context.bot.send_message(
                update.effective_chat.id, html.escape(t("error", lang)), parse_mode=ParseMode.HTML
            )
        except Exception:  # the error may be that we cannot send at all
            log.warning("could not tell chat %s about the error", update.effective_chat.id)


def _partner_names(context: Context) -> list[str]:
    """Return the partner cities of the directory, in its order (the upload buttons' indices)."""
    scheduling = services(context).scheduling
    return [c.name for c in scheduling.directory.partners] if scheduling else []

"""Webinar follow-up in Telegram: links, attendees, escalation to staff, curated answers, survey, report."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import date, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.accounts.service import Person
from bot.domain import Asker, Role
from bot.followup.broadcast import RecipientBlocked, RetryLater, broadcast
from bot.followup.escalation import EscalationError, EscalationItem
from bot.followup.report import build_report
from bot.followup.survey import SurveyError
from bot.followup.webinars import Webinar, WebinarError, deep_link, qr_png
from bot.i18n import LANGUAGES, t
from bot.telegram.common import Context, reply, require_staff, sender, services

log = logging.getLogger(__name__)


def _staff(person: Person) -> bool:
    return person.role is Role.STAFF


# ---------------------------------------------------------------- attendees


async def join(update: Update, context: Context, person: Person, code: str) -> None:
    """Register the sender for a webinar opened from its link."""
    try:
        webinar = services(context).webinars.register(person.user_id, code, person.language)
    except WebinarError as exc:
        await reply(update, t(exc.reason, person.language))
        return
    await reply(update, t("webinar_welcome", person.language, title=webinar.title))


def attendee_asker(context: Context, person: Person) -> tuple[Asker | None, bool]:
    """Return (the attendee identity, whether their webinar is closed) for a public user."""
    if person.role is not Role.PUBLIC:  # staff and partners keep their own, wider rights
        return None, False
    return services(context).webinars.attendee_asker(person.user_id)


# ---------------------------------------------------------------- staff: webinars


async def webinar_command(update: Update, context: Context) -> None:
    """`/webinar new DATE LANG TITLE`, `/webinar close CODE`, `/webinar list` (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    args = context.args or []
    lang = person.language
    svc = services(context)
    if len(args) >= 4 and args[0] == "new":
        try:
            day = date.fromisoformat(args[1])
        except ValueError:
            day = None
        if day is None or args[2] not in LANGUAGES:
            await reply(update, t("webinar_usage", lang))
            return
        webinar = svc.webinars.create(" ".join(args[3:])[:200], day, args[2], person.user_id)
        link = deep_link(context.bot.username or "", webinar.code)
        text = t(
            "webinar_created",
            lang,
            title=webinar.title,
            date=webinar.date,
            language=webinar.language,
            code=webinar.code,
            link=link,
        )
        await reply(update, text)
        if update.effective_message is not None:
            await update.effective_message.reply_photo(
                qr_png(link), filename=f"webinar-{webinar.code}.png"
            )
    elif len(args) == 2 and args[0] == "close":
        try:
            svc.webinars.close(args[1])
        except WebinarError as exc:
            await reply(update, t(exc.reason, lang))
            return
        await reply(update, t("webinar_closed_ok", lang, code=args[1]))
    elif args[:1] == ["list"]:
        items = svc.webinars.list()
        if not items:
            await reply(update, t("webinar_list_none", lang))
            return
        counts = svc.webinars.attendee_counts()
        lines = [
            f"{w.code} · {w.date} · {w.language} · {'open' if w.is_open else 'closed'} · {w.title} · "
            f"{counts.get(w.code, 0)}"
            for w in items
        ]
        await reply(update, "\n".join(lines))
    else:
        await reply(update, t("webinar_usage", lang))


# ---------------------------------------------------------------- escalation


def _staff_targets(context: Context) -> list[int]:
    svc = services(context)
    if svc.settings.staff_chat_id is not None:
        return [svc.settings.staff_chat_id]
    return sorted(svc.accounts.staff_ids)


def _post_text(item: EscalationItem, lang: str) -> str:
    webinar = f", {item.webinar}" if item.webinar else ""
    return t(
        "esc_post",
        lang,
        id=item.id,
        reason=t(f"esc_reason_{item.reason}", lang),
        webinar=webinar,
        language=item.language,
        question=item.question,
    )


def _post_buttons(item: EscalationItem, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("esc_btn_answer", lang), callback_data=f"esc:ans:{item.id}"),
                InlineKeyboardButton(t("esc_btn_mine", lang), callback_data=f"esc:mine:{item.id}"),
                InlineKeyboardButton(
                    t("esc_btn_dismiss", lang), callback_data=f"esc:dis:{item.id}"
                ),
            ]
        ]
    )


async def post_item(context: Context, item: EscalationItem, chat_id: int) -> bool:
    """Post a queued question with its buttons to one staff chat or member; remember the post.

    A private chat gets it in that staff member's language, a group in English. Return whether
    it was delivered.
    """
    svc = services(context)
    lang = svc.accounts.person(chat_id).language if chat_id > 0 else "en"
    try:
        message = await context.bot.send_message(
            chat_id,
            html.escape(_post_text(item, lang)),
            parse_mode=ParseMode.HTML,
            reply_markup=_post_buttons(item, lang),
        )
    except TelegramError as exc:
        log.warning("escalation %s not posted to %s: %s", item.id, chat_id, exc)
        return False
    svc.escalations.record_post(item.id, chat_id, message.message_id)
    return True


async def post_to_staff(context: Context, item: EscalationItem) -> None:
    """Post a queued question to the staff chat (or each staff member) with its buttons."""
    for chat_id in _staff_targets(context):
        await post_item(context, item, chat_id)


async def escalate(context: Context, answer_id: int, reason: str) -> bool:
    """Queue a logged answer for staff; return True when it is newly queued (and posted)."""
    item = services(context).escalations.escalate_answer(answer_id, reason)
    if item is None or not item.is_new:
        return False
    await post_to_staff(context, item)
    return True


async def escalation_button(update: Update, context: Context) -> None:
    """Handle Answer / Assign to me / Dismiss on an escalation post."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc = services(context)
    person = svc.accounts.person(query.from_user.id)
    if not _staff(person):
        await query.answer(t("staff_only", person.language), show_alert=True)
        return
    _, action, raw_id = query.data.split(":")
    item_id = int(raw_id)
    lang = person.language
    try:
        if action == "ans":
            await query.answer()
            prompt = await context.bot.send_message(
                query.message.chat.id,  # type: ignore[union-attr]
                html.escape(t("esc_answer_prompt", lang, id=item_id)),
                parse_mode=ParseMode.HTML,
            )
            svc.escalations.record_post(item_id, prompt.chat.id, prompt.message_id)
            return
        if action == "mine":
            svc.escalations.assign(item_id, person.user_id)
            note = t("esc_assigned", lang, id=item_id, name=query.from_user.first_name)
        else:
            svc.escalations.dismiss(item_id, person.user_id)
            note = t("esc_dismissed", lang, id=item_id)
    except EscalationError as exc:
        await query.answer(t(exc.reason, lang), show_alert=True)
        return
    await query.answer(note)
    await query.edit_message_text(
        html.escape(f"{query.message.text}\n\n{note}"),  # type: ignore[union-attr]
        parse_mode=ParseMode.HTML,
        reply_markup=None if action == "dis" else query.message.reply_markup,  # type: ignore[union-attr]
    )


async def staff_reply(update: Update, context: Context) -> bool:
    """Treat a staff reply to an escalation post as the answer; return False if it is not one."""
    message = update.effective_message
    if message is None or message.reply_to_message is None or not message.text:
        return False
    svc = services(context)
    item = svc.escalations.find_by_post(message.chat.id, message.reply_to_message.message_id)
    if item is None:
        return False
    person = sender(update, context)
    if not _staff(person):
        return False
    await _answer_item(update, context, person, item.id, message.text)
    return True


async def reply_command(update: Update, context: Context) -> None:
    """`/reply ID text`: answer a queued question (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    args = context.args or []
    if len(args) < 2 or not args[0].lstrip("#").isdigit():
        await reply(update, t("reply_usage", person.language))
        return
    text = update.effective_message.text.split(None, 2)[2]  # type: ignore[union-attr]
    await _answer_item(update, context, person, int(args[0].lstrip("#")), text)


async def _answer_item(
    update: Update, context: Context, person: Person, item_id: int, text: str
) -> None:
    """Store the staff answer, deliver it to the asker, and offer to curate it."""
    svc = services(context)
    try:
        item = svc.escalations.answer(item_id, person.user_id, text.strip())
    except EscalationError as exc:
        await reply(update, t(exc.reason, person.language))
        return
    delivered = True
    try:  # only the asker's own chat: nothing one attendee writes reaches another
        await context.bot.send_message(
            item.chat_id,
            html.escape(
                t("staff_answer", item.language, question=item.question, answer=text.strip())
            ),
            parse_mode=ParseMode.HTML,
        )
    except Forbidden:
        delivered = False
    lang = person.language
    if not delivered:
        await reply(update, t("esc_undeliverable", lang, id=item.id))
    scopes = ["public", "internal"] + (["webinar"] if item.webinar else [])
    rows = [
        [InlineKeyboardButton(t(f"curated_{s}", lang), callback_data=f"cur:{item.id}:{s}")]
        for s in scopes
    ]
    rows.append([InlineKeyboardButton(t("curated_skip", lang), callback_data=f"cur:{item.id}:-")])
    await reply(
        update, t("esc_delivered", lang, id=item.id), reply_markup=InlineKeyboardMarkup(rows)
    )


async def curated_button(update: Update, context: Context) -> None:
    """Publish an answered question as a curated answer in the scope staff chose."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc = services(context)
    person = svc.accounts.person(query.from_user.id)
    await query.answer()
    if not _staff(person):
        return
    _, raw_id, scope = query.data.split(":")
    lang = person.language
    if scope == "-":
        await query.edit_message_text(
            html.escape(t("curated_skipped", lang)), parse_mode=ParseMode.HTML
        )
        return
    item = svc.escalations.get(int(raw_id))
    if item is None:
        return
    report = await asyncio.to_thread(svc.curated.publish, item, scope, item.webinar)
    text = (
        t("curated_done", lang, scope=t(f"curated_{scope}", lang))
        if not report.failed
        else str(report.failed[0][1])
    )
    await query.edit_message_text(html.escape(text), parse_mode=ParseMode.HTML)


async def assign_command(update: Update, context: Context) -> None:
    """`/assign ID STAFF_ID`: hand a queued question to a colleague (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    args = context.args or []
    svc = services(context)
    if (
        len(args) != 2
        or not all(a.lstrip("#").isdigit() for a in args)
        or int(args[1]) not in svc.accounts.staff_ids
    ):
        await reply(update, t("assign_usage", person.language))
        return
    item_id, staff_id = int(args[0].lstrip("#")), int(args[1])
    try:
        item = svc.escalations.assign(item_id, staff_id)
    except EscalationError as exc:
        await reply(update, t(exc.reason, person.language))
        return
    # the colleague gets the question with its buttons, and the post is remembered, before the
    # confirmation: a reply to the post is only an answer once the bot knows the post
    delivered = await post_item(context, item, staff_id)
    key = "esc_assigned" if delivered else "esc_assigned_undelivered"
    await reply(update, t(key, person.language, id=item.id, name=staff_id))


async def pending_command(update: Update, context: Context) -> None:
    """List the open queue, oldest first, with how long each has waited (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    pending = services(context).escalations.pending()
    if not pending:
        await reply(update, t("pending_none", person.language))
        return
    lines = [t("pending_header", person.language)]
    for p in pending:
        hours = p.age.total_seconds() / 3600
        age = f"{hours:.0f} h" if hours >= 1 else f"{p.age.total_seconds() / 60:.0f} min"
        who = f" → {p.item.assigned_to}" if p.item.assigned_to else ""
        lines.append(
            f"#{p.item.id} · {age}{who} · {p.item.webinar or '-'} · {p.item.question[:120]}"
        )
    await reply(update, "\n".join(lines))


async def repost_stale(context: Context) -> None:
    """Post questions waiting longer than the set time once more (job queue)."""
    svc = services(context)
    after = timedelta(minutes=svc.settings.escalation_repost_after_min)
    for item in svc.escalations.due_for_repost(svc.escalations.clock(), after):
        await post_to_staff(context, item)


# ---------------------------------------------------------------- survey, report, broadcast


async def _staff_webinar(
    update: Update, context: Context, usage: str
) -> tuple[Person, Webinar] | None:
    """Return the staff sender and the webinar named by the first argument, or reply why not."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return None
    webinar = services(context).webinars.get((context.args or [""])[0])
    if webinar is None:
        await reply(update, t(usage, person.language))
        return None
    return person, webinar


async def survey_command(update: Update, context: Context) -> None:
    """`/survey CODE`: ask the webinar's attendees for a 1–5 rating (staff)."""
    found = await _staff_webinar(update, context, "survey_usage")
    if found is None:
        return
    person, webinar = found
    svc, code = services(context), webinar.code
    attendees = {a.user_id: a.language for a in svc.webinars.attendees(code)}
    sent = 0
    for user_id in svc.surveys.ask(code):
        lang = attendees.get(user_id, "en")
        buttons = [
            [InlineKeyboardButton(str(n), callback_data=f"sv:{code}:{n}") for n in range(1, 6)]
        ]
        try:
            await context.bot.send_message(
                user_id,
                html.escape(t("survey_question", lang, title=webinar.title)),
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup(buttons),
            )
            sent += 1
        except TelegramError as exc:
            log.info("survey not delivered to %s: %s", user_id, exc)
    await reply(update, t("survey_sent", person.language, count=sent))


async def survey_button(update: Update, context: Context) -> None:
    """Store an attendee's rating and invite an optional comment."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc = services(context)
    person = svc.accounts.person(query.from_user.id)
    _, code, score = query.data.split(":")
    try:
        svc.surveys.record(code, query.from_user.id, int(score))
    except SurveyError as exc:
        await query.answer(t(exc.reason, person.language), show_alert=True)
        return
    await query.answer(t("vote_thanks", person.language))
    await query.edit_message_reply_markup(reply_markup=None)
    # only a reply to this prompt is a comment: the attendee's next question stays a question
    prompt = await context.bot.send_message(
        query.from_user.id,
        html.escape(t("survey_thanks_comment", person.language)),
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True),
    )
    context.user_data["survey_comment"] = (code, prompt.message_id)  # type: ignore[index]


async def survey_comment(update: Update, context: Context) -> bool:
    """Take a reply to the comment prompt as the comment; return False if it is not one."""
    awaited = (context.user_data or {}).get("survey_comment")
    message = update.effective_message
    if awaited is None or message is None or not message.text or message.reply_to_message is None:
        return False
    code, prompt_id = awaited
    if message.reply_to_message.message_id != prompt_id:
        return False
    context.user_data.pop("survey_comment", None)  # type: ignore[union-attr]
    person = sender(update, context)
    try:
        services(context).surveys.add_comment(code, person.user_id, message.text[:2000])
    except SurveyError as exc:
        await reply(update, t(exc.reason, person.language))
        return True
    await reply(update, t("survey_comment_thanks", person.language))
    return True


async def report_command(update: Update, context: Context) -> None:
    """`/report CODE`: send the webinar's report as Markdown, CSV and a chart (staff)."""
    found = await _staff_webinar(update, context, "report_usage")
    if found is None:
        return
    person, webinar = found
    svc, code = services(context), webinar.code
    tz = svc.scheduling.home.tz if svc.scheduling is not None else ZoneInfo("Asia/Seoul")
    report = await asyncio.to_thread(build_report, code, svc.db, svc.analyzer, tz=tz)
    message = update.effective_message
    assert message is not None
    caption = t(
        "report_caption",
        person.language,
        title=webinar.title,
        questions=report.figures["questions"],
        attendees=report.figures["attendees"],
    )
    await message.reply_document(
        BytesIO(report.markdown.encode()),
        filename=f"report-{code}.md",
        caption=html.escape(caption),
        parse_mode=ParseMode.HTML,
    )
    await message.reply_document(
        BytesIO(report.csv.encode("utf-8-sig")), filename=f"report-{code}.csv"
    )
    await message.reply_photo(report.chart_png, filename=f"questions-per-day-{code}.png")


async def broadcast_command(update: Update, context: Context) -> None:
    """`/broadcast CODE text`: send a follow-up to every attendee, paced, and report the counts (staff)."""
    person = sender(update, context)
    if not await require_staff(update, person):
        return
    svc = services(context)
    message = update.effective_message
    parts = (message.text or "").split(None, 2) if message else []
    if len(parts) < 3 or svc.webinars.get(parts[1]) is None:
        await reply(update, t("broadcast_usage", person.language))
        return
    body = html.escape(parts[2])

    async def send(user_id: int) -> Message:
        try:
            return await context.bot.send_message(user_id, body, parse_mode=ParseMode.HTML)
        except Forbidden as exc:
            raise RecipientBlocked(user_id) from exc
        except RetryAfter as exc:
            raise RetryLater(
                float(
                    exc.retry_after
                    if isinstance(exc.retry_after, int | float)
                    else exc.retry_after.total_seconds()
                )
            ) from exc

    recipients = [a.user_id for a in svc.webinars.attendees(parts[1])]
    result = await broadcast(recipients, send, per_second=svc.settings.broadcast_per_second)
    await reply(
        update,
        t(
            "broadcast_done",
            person.language,
            delivered=result.delivered,
            blocked=result.blocked,
            failed=result.failed,
        ),
    )

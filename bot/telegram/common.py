"""What every Telegram handler module shares: the services, the sender, a plain reply."""

from __future__ import annotations

import html
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.accounts.service import Person
from bot.domain import Role
from bot.i18n import t
from bot.services import Services

Context = ContextTypes.DEFAULT_TYPE


def services(context: Context) -> Services:
    """Return the services the application was built with."""
    found: Services = context.application.bot_data["services"]
    return found


def sender(update: Update, context: Context) -> Person:
    """Record the sender and return who they are."""
    user = update.effective_user
    assert user is not None
    return services(context).accounts.touch(
        user.id, user.first_name or "", user.username or "", user.language_code or ""
    )


def is_group(update: Update) -> bool:
    """Tell whether the update comes from a group or supergroup."""
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def reply(update: Update, text: str, **kwargs: Any) -> Message | None:
    """Reply with plain text (escaped) in the update's chat."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(html.escape(text), parse_mode=ParseMode.HTML, **kwargs)


async def refuse_if_not_allowed(update: Update, context: Context, person: Person) -> bool:
    """Tell the user politely when public access is off; return True if they were refused."""
    if services(context).accounts.may_use(person):
        return False
    await reply(update, t("not_allowed", person.language))
    return True


async def require_staff(update: Update, person: Person) -> bool:
    """Tell whether the sender is staff; if not, say so."""
    if person.role is Role.STAFF:
        return True
    await reply(update, t("staff_only", person.language))
    return False


async def require_admin(update: Update, person: Person) -> bool:
    """Tell whether the sender is an administrator; if not, say so."""
    if person.is_admin:
        return True
    await reply(update, t("admin_only", person.language))
    return False

"""Build and run the python-telegram-bot Application (polling by default, webhook when configured)."""

from __future__ import annotations

import hashlib
import logging

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.services import Services, build_services
from bot.telegram import handlers as h
from bot.telegram import meetings as m
from bot.telegram import webinars as w
from bot.telegram.ordering import PerSenderUpdateProcessor

log = logging.getLogger(__name__)

COMMANDS = {
    "en": [
        ("help", "What I can do"),
        ("sources", "Documents of my last answer"),
        ("language", "Change the language"),
        ("whoami", "Your role"),
    ],
    "ko": [
        ("help", "도움말"),
        ("sources", "마지막 답변의 근거 문서"),
        ("language", "언어 변경"),
        ("whoami", "내 권한"),
    ],
    "de": [
        ("help", "Was ich kann"),
        ("sources", "Quellen der letzten Antwort"),
        ("language", "Sprache ändern"),
        ("whoami", "Ihre Rolle"),
    ],
    "vi": [
        ("help", "Tôi làm được gì"),
        ("sources", "Nguồn của câu trả lời trước"),
        ("language", "Đổi ngôn ngữ"),
        ("whoami", "Vai trò của bạn"),
    ],
}


def build_application(settings: Settings, services: Services) -> Application:
    """Wire handlers onto a PTB Application that talks to the configured Bot API URL."""
    assert settings.telegram_bot_token is not None
    app = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url or "")
        .rate_limiter(AIORateLimiter(max_retries=3))  # waits out 429 retry_after, paces bursts
        .concurrent_updates(PerSenderUpdateProcessor(16))
        .post_init(_post_init)
        .build()
    )
    app.bot_data["services"] = services

    app.add_handler(CommandHandler("start", h.start))
    app.add_handler(CommandHandler("help", h.help_command))
    app.add_handler(CommandHandler("whoami", h.whoami))
    app.add_handler(CommandHandler("language", h.language))
    app.add_handler(CommandHandler("sources", h.sources))
    app.add_handler(CommandHandler("invite", h.invite))
    app.add_handler(CommandHandler("partners", h.partners))
    app.add_handler(CommandHandler("revoke", h.revoke))
    app.add_handler(CommandHandler("grouplevel", h.grouplevel))
    app.add_handler(CommandHandler("stats", h.stats))
    app.add_handler(CommandHandler("meet", m.meet))
    app.add_handler(CommandHandler("meetings", m.meetings))
    app.add_handler(CommandHandler("cancel", m.cancel))
    app.add_handler(CommandHandler("reschedule", m.reschedule))
    app.add_handler(CallbackQueryHandler(m.meet_button, pattern=r"^m:"))
    app.add_handler(CommandHandler("webinar", w.webinar_command))
    app.add_handler(CommandHandler("pending", w.pending_command))
    app.add_handler(CommandHandler("reply", w.reply_command))
    app.add_handler(CommandHandler("assign", w.assign_command))
    app.add_handler(CommandHandler("survey", w.survey_command))
    app.add_handler(CommandHandler("report", w.report_command))
    app.add_handler(CommandHandler("broadcast", w.broadcast_command))
    app.add_handler(CallbackQueryHandler(w.escalation_button, pattern=r"^esc:"))
    app.add_handler(CallbackQueryHandler(w.curated_button, pattern=r"^cur:"))
    app.add_handler(CallbackQueryHandler(w.survey_button, pattern=r"^sv:"))
    app.add_handler(CallbackQueryHandler(h.vote, pattern=r"^v:"))
    app.add_handler(CallbackQueryHandler(h.language_button, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(h.upload_visibility, pattern=r"^up:"))
    app.add_handler(MessageHandler(filters.Document.ALL, h.document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, m.text_message))
    app.add_handler(MessageHandler(filters.COMMAND, h.unknown_command))
    app.add_error_handler(h.on_error)
    return app


async def _post_init(app: Application) -> None:
    """Publish the command menu per language and load the models before the first question."""
    for lang, commands in COMMANDS.items():
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands], language_code=None if lang == "en" else lang
        )
    services: Services = app.bot_data["services"]
    services.analyzer.warm_up()
    if services.scheduling is not None and app.job_queue is not None:
        # reminders live in the database: polling them survives restarts and sends late ones once
        app.job_queue.run_repeating(
            m.send_due_reminders, interval=services.settings.reminder_poll_s, first=1
        )
    if app.job_queue is not None:
        poll = services.settings.escalation_repost_poll_s
        app.job_queue.run_repeating(w.repost_stale, interval=poll, first=min(30.0, poll))
    log.info("bot @%s ready", app.bot.username)


class StartupError(Exception):
    """The bot could not start (Telegram unreachable, token refused); the message says why."""


def run_bot(settings: Settings) -> int:
    """Run the bot until stopped: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    # httpx logs every request URL at INFO, and Bot API URLs carry the token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    services = build_services(settings)
    app = build_application(settings, services)
    try:
        if settings.telegram_webhook_url:
            token = settings.telegram_bot_token.get_secret_value()  # type: ignore[union-attr]
            path = hashlib.sha256(token.encode()).hexdigest()[:32]  # never the token in a URL
            secret = settings.telegram_webhook_secret
            app.run_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=path,
                webhook_url=f"{settings.telegram_webhook_url.rstrip('/')}/{path}",
                secret_token=secret.get_secret_value() if secret else None,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        raise StartupError("Telegram refused the bot token (TELEGRAM_BOT_TOKEN)") from None
    except NetworkError as exc:
        raise StartupError(
            f"cannot reach the Telegram Bot API at {_redact(settings.telegram_api_base_url)}: {exc}"
        ) from None
    finally:
        services.close()
    return 0


def _redact(url: str) -> str:
    """Return a Bot API URL fit for a message (the token is never part of the base URL)."""
    return url.split("?")[0]

"""Build and run the python-telegram-bot Application (polling by default, webhook when configured)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot.app.core import App
from bot.app.uploads import READING_LEASE
from bot.config import Settings, webhook_path
from bot.services import Services, build_services
from bot.storage.inbox import Inbox
from bot.telegram import handlers as h
from bot.telegram.inbox import InboxApplication, InboxQueue, StoreBeforeConfirming
from bot.telegram.ordering import PerSenderUpdateProcessor
from bot.telegram.outbox import TelegramOutbox

log = logging.getLogger(__name__)
WORKER_THREADS = 32
# the update types asked of Telegram (getUpdates, setWebhook): what the handlers below take, and
# the edits and channel posts they pass over in silence; nothing else is stored in the inbox
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.CALLBACK_QUERY,
]

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


class HintsGiveWay(AIORateLimiter):
    """PTB's limiter (at most 30 requests/s to chats, 20/min to a group, waits out a 429),
    except that a chat action ("typing") never waits for the budget: it is sent only when the
    budget has room now and no other request is waiting for it, and is otherwise left out.

    Each answer is one request, and its "typing" hint was another: at the budget's 30/s a burst
    got at most 15 answers/s (12 with the escalation notices), each answer queued behind
    hints. A hint that would come after its answer tells nobody anything.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Send the request as PTB's limiter does; leave out a chat action that would wait."""
        if endpoint == "sendChatAction" and not self._room_now(data.get("chat_id")):
            return True  # what Telegram answers to a chat action
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )

    def _room_now(self, chat_id: object) -> bool:
        limiters = [self._base_limiter]
        if isinstance(chat_id, int) and chat_id < 0 and self._group_max_rate:
            limiters.append(self._get_group_limiter(chat_id))
        return all(
            limiter is None or (not limiter._waiters and limiter.has_capacity())
            for limiter in limiters
        )


def build_application(settings: Settings, services: Services) -> Application:
    """Wire the handlers onto a PTB Application that talks to the configured Bot API URL."""
    assert settings.telegram_bot_token is not None
    queue = inbox_queue(settings, services)
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url or "")
        .rate_limiter(HintsGiveWay(max_retries=3))  # waits out 429 retry_after, paces bursts
        .concurrent_updates(PerSenderUpdateProcessor(16))
        .post_init(_post_init)
        .application_class(InboxApplication)
        .update_queue(queue)  # stored before Telegram hears it arrived
        .post_stop(_post_stop)
    )
    if not settings.telegram_webhook_url:
        # long polling: a getUpdates batch is stored in one transaction, before the next
        # getUpdates confirms it (a webhook's update is stored before its 200, one by one)
        queue.store_before_confirming = True
        builder = builder.get_updates_request(StoreBeforeConfirming(queue))
    app = builder.build()
    outbox = TelegramOutbox(app.bot)
    app.bot_data["outbox"] = outbox
    app.bot_data["app"] = App(services, outbox)
    app.add_handler(CallbackQueryHandler(h.button))
    # new messages only: an edit would ask (and count against the rate limit) a second time,
    # and a channel post has nobody to answer; every other update type passes in silence
    new = filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(new & filters.Document.ALL, h.document))
    app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, h.text))
    app.add_handler(MessageHandler(new & filters.COMMAND, h.command))
    app.add_error_handler(h.on_error)
    return app


def inbox_queue(settings: Settings, services: Services) -> InboxQueue:
    """Return the update queue on the shared inbox, with the configured lease and poll."""
    assert settings.bot_id is not None
    return InboxQueue(
        Inbox(services.db, settings.bot_id),  # this bot's updates only: bots may share a database
        lease=timedelta(seconds=settings.inbox_lease_s),
        poll_s=settings.inbox_poll_s,
    )


async def _post_init(app: Application) -> None:
    """Publish the command menu per language, load the models, start the periodic jobs."""
    loop = asyncio.get_running_loop()
    # use cases run in worker threads; a slow model in some must leave room for the others
    loop.set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS))
    app.bot_data["outbox"].loop = loop
    core: App = app.bot_data["app"]
    core.set_bot_username(app.bot.username or "")
    for lang, commands in COMMANDS.items():
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands], language_code=None if lang == "en" else lang
        )
    await asyncio.to_thread(core.services.analyzer.warm_up)
    queue = app.update_queue
    if isinstance(queue, InboxQueue):  # claims what any process stored, a killed one's too
        await asyncio.to_thread(queue.inbox.prune)
        await asyncio.to_thread(queue.inbox.adopt)  # the updates stored before it was per bot
        queue.start(app.bot)
    settings = core.services.settings
    if app.job_queue is not None:
        if core.services.scheduling is not None:
            # reminders live in the database: polling them survives restarts, sends late ones once
            app.job_queue.run_repeating(
                _job(core.send_due_reminders), interval=settings.reminder_poll_s, first=1
            )
        poll = settings.escalation_repost_poll_s
        app.job_queue.run_repeating(_job(core.repost_stale), interval=poll, first=min(30.0, poll))
        # well inside the lease, so this process's own uploads in hand are never taken for lost
        app.job_queue.run_repeating(
            _job(core.recover_uploads), interval=READING_LEASE.total_seconds() / 3, first=5
        )
        # a broadcast whose process died goes on from another once its claims ran out
        app.job_queue.run_repeating(_job(core.resume_broadcasts), interval=60.0, first=30.0)
    log.info("bot @%s ready", app.bot.username)


async def _post_stop(app: Application) -> None:
    """Stop the background jobs while an interrupted upload's sender can still be told."""
    core: App = app.bot_data["app"]
    await asyncio.to_thread(core.close)


def _job(
    run: Callable[[], int],
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """Return a job-queue callback that runs a periodic use case in a worker thread."""

    async def job(_context: Any) -> None:
        await asyncio.to_thread(run)

    job.__name__ = run.__name__
    return job


class StartupError(Exception):
    """The bot could not start (Telegram unreachable, token refused); the message says why."""


def run_bot(settings: Settings) -> int:
    """Run the bot until stopped: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    # httpx logs every request URL at INFO, and Bot API URLs carry the token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if settings.telegram_webhook_url:
            if not asyncio.run(_serve_webhook(settings)):
                # stopped while the services were being built: their thread cannot be
                # interrupted, and waiting for it would hold a stopping process for as long as
                # the models take to load. The server is closed and nothing was taken from
                # Telegram yet; what the build wrote is as a killed process leaves it (the
                # migrations are transactions, a repair resumes at the next start)
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
        else:
            services = build_services(settings)
            try:
                app = build_application(settings, services)
                app.run_polling(allowed_updates=ALLOWED_UPDATES)
            finally:
                services.close()
    except InvalidToken:
        raise StartupError("Telegram refused the bot token (TELEGRAM_BOT_TOKEN)") from None
    except NetworkError as exc:
        raise StartupError(
            f"cannot reach the Telegram Bot API at {_redact(settings.telegram_api_base_url)}: {exc}"
        ) from None
    return 0


async def _serve_webhook(settings: Settings) -> bool:
    """Serve the webhook, /healthz and /readyz on the webhook port (bot/telegram/webhook.py).

    The server listens first, so /healthz answers (and /readyz says why not ready) while the
    services are built: an orchestrator's liveness probe does not kill a process loading its
    models. A SIGTERM or SIGINT while they are built closes the server at once and returns
    False (the build's thread is left to the process's exit); True after a run.
    """
    from bot.schema import head, not_current
    from bot.telegram.webhook import STOP_SIGNALS, Readiness, WebhookServer, serve

    token = settings.telegram_bot_token.get_secret_value()  # type: ignore[union-attr]
    path = webhook_path(token)  # never the token in a URL (the reverse proxy's location)
    secret = settings.telegram_webhook_secret
    newest = head()
    built: list[Services] = []

    def check_database() -> str | None:
        return not_current(built[0].db, newest) if built else "starting"

    readiness = Readiness(check_database=check_database, process=_process_name(settings))
    server = WebhookServer(None, path, secret.get_secret_value() if secret else None, readiness)
    server.listen(settings.telegram_webhook_listen, settings.telegram_webhook_port)
    log.info(
        "webhook server on %s:%d (/healthz answers; /readyz once ready)",
        settings.telegram_webhook_listen,
        settings.telegram_webhook_port,
    )
    try:
        services = await _build_unless_stopped(settings, STOP_SIGNALS)
        if services is None:
            log.info("stopped while starting: the webhook server is closed")
            return False
        built.append(services)
        app = build_application(settings, built[0])
        await serve(
            app,
            server=server,
            webhook_url=f"{settings.telegram_webhook_url.rstrip('/')}/{path}",  # type: ignore[union-attr]
            secret=secret.get_secret_value() if secret else None,
            allowed_updates=ALLOWED_UPDATES,
        )
    finally:
        readiness.stopping = True
        await server.stop(grace_s=1.0)  # stopped already after a clean run; at once otherwise
        if built:
            await asyncio.to_thread(built[0].close)
    return True


async def _build_unless_stopped(
    settings: Settings, signals: Sequence[signal.Signals]
) -> Services | None:
    """Build the services in a thread of their own; return None at once if one of `signals`
    comes first (the thread is not waited for: a daemon, it ends with the process)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    built: asyncio.Future[Services] = loop.create_future()

    def settle(result: Services | None, error: BaseException | None) -> None:
        if built.cancelled():  # stopped first: these services are never used
            if result is not None:
                result.close()
        elif error is not None:
            built.set_exception(error)
        else:
            built.set_result(result)  # type: ignore[arg-type]

    def build() -> None:
        try:
            result: Services | None = build_services(settings)
            error: BaseException | None = None
        except BaseException as exc:  # handed to the loop, raised there
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is ending
            loop.call_soon_threadsafe(settle, result, error)

    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        threading.Thread(target=build, name="build-services", daemon=True).start()
        waiting: set[asyncio.Future[Any]] = {built, stopping}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        stopping.cancel()
    if stop.is_set():
        if built.done() and not built.cancelled() and built.exception() is None:
            await asyncio.to_thread(built.result().close)
        built.cancel()
        return None
    return built.result()


def _process_name(settings: Settings) -> str:
    import os
    import socket

    return settings.process_name or f"{socket.gethostname()}:{os.getpid()}"


def _redact(url: str) -> str:
    """Return a Bot API URL fit for a message (the token is never part of the base URL)."""
    return url.split("?")[0]

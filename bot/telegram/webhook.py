"""The webhook server: Telegram's updates, and health endpoints for a load balancer, on one port.

python-telegram-bot's own `run_webhook` serves only the update path. Several bot processes
behind a load balancer also need to say whether they are alive and whether they should be sent
updates, so this server (tornado, which PTB's webhook already uses) serves:

- `POST /<webhook path>`: an update. The secret token is checked first; the update is put into
  the application's update queue (InboxQueue: stored in the database inbox before the put
  returns) and only then answered 200, so an update Telegram was told arrived is never lost.
- `GET /healthz`: 200 while the process runs (liveness), from the first moment: the server
  listens before the services are built (the embedder's load takes a while), saying
  `"status": "starting"` until the bot runs, then `"alive"`.
- `GET /readyz`: 200 once the models are loaded, the application runs and the database is at
  this release's newest revision; 503 with the reason otherwise (`starting (loading models)`
  during start-up), and from the moment a shutdown begins (so the balancer sends the updates
  elsewhere).

An update posted during start-up, before there is an application to store it, is answered 503
(Telegram delivers it again later); a balancer sends none there, since /readyz says 503.

Shutdown (SIGTERM, SIGINT): readiness drops, the server stops taking connections and lets the
requests in flight finish, then the application handles every update it holds before stopping.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot

from bot.telegram.inbox import InboxQueue

log = logging.getLogger(__name__)
READY_CACHE_S = 1.0  # a balancer probing every second costs one small query a second
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Readiness:
    """What /readyz answers: ready once started, until stopping; the database checked lazily."""

    check_database: Any  # () -> str | None: why the database is not ready (None: it is)
    process: str = ""
    started: bool = False
    stopping: bool = False
    _checked_at: float = -1e9
    _database: str | None = field(default="not checked yet")

    def reason(self) -> str | None:
        """Return why this process should not be sent updates now (None: it should)."""
        if self.stopping:
            return "shutting down"
        if not self.started:
            return "starting (loading models)"
        return self._database

    async def refresh(self) -> None:
        """Check the database again when the last check is older than READY_CACHE_S."""
        if not self.started:  # nothing to check against yet (the services are being built)
            return
        now = time.monotonic()
        if now - self._checked_at < READY_CACHE_S:
            return
        self._checked_at = now
        try:
            self._database = await asyncio.to_thread(self.check_database)
        except Exception as exc:  # unreachable, refused: not ready, say why
            self._database = f"database unreachable: {type(exc).__name__}: {exc}"[:300]


class _Json(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", 'application/json; charset="utf-8"')

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(json.dumps({"ok": False, "error": self._reason}))


class HealthHandler(_Json):
    """Liveness: the process answers."""

    def initialize(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def get(self) -> None:
        starting = not self.readiness.started and not self.readiness.stopping
        status = "starting" if starting else "alive"
        self.reply(HTTPStatus.OK, {"status": status, "process": self.readiness.process})


class ReadyHandler(_Json):
    """Readiness: models loaded, application running, database at the newest revision."""

    def initialize(self, readiness: Readiness) -> None:
        self.readiness = readiness

    async def get(self) -> None:
        await self.readiness.refresh()
        reason = self.readiness.reason()
        process = self.readiness.process
        if reason is None:
            self.reply(HTTPStatus.OK, {"status": "ready", "process": process})
        else:
            self.reply(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"status": "not ready", "reason": reason, "process": process},
            )


class UpdateHandler(_Json):
    """An update from Telegram: checked, stored through the update queue, then 200."""

    def initialize(self, server: WebhookServer, secret: str | None, flight: _Flight) -> None:
        self.server = server
        self.secret = secret
        self.flight = flight

    async def post(self) -> None:
        media = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="expected application/json")
        if self.secret is not None:
            token = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(token.encode(), self.secret.encode()):
                raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="wrong secret token")
        app = self.server.app
        if app is None:  # still starting: nowhere to store it yet; Telegram delivers it again
            raise tornado.web.HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason="starting")
        try:
            update = Update.de_json(json.loads(self.request.body), app.bot)
        except Exception:
            log.warning("a webhook request that is no update was refused", exc_info=True)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST, reason="not an update") from None
        if update is not None:
            if isinstance(app.bot, ExtBot):
                app.bot.insert_callback_data(update)
            with self.flight:
                # InboxQueue.put stores the update in the inbox before it returns: an error
                # here is a 500, and Telegram delivers the update again
                await app.update_queue.put(update)
        self.reply(HTTPStatus.OK, {"ok": True})


class _Flight:
    """Counts the updates being stored, so a shutdown lets them reach the queue first."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __enter__(self) -> None:
        self.count += 1
        self.idle.clear()

    def __exit__(self, *exc: object) -> None:
        self.count -= 1
        if not self.count:
            self.idle.set()


class WebhookServer:
    """The tornado server of the update path and the health endpoints; it may listen before
    the application exists (`attach` it once built), so /healthz answers during start-up."""

    def __init__(
        self,
        app: Application | None,
        path: str,
        secret: str | None,
        readiness: Readiness,
    ) -> None:
        self.app = app
        self.flight = _Flight()
        self.readiness = readiness
        routes: list[Any] = [
            (r"/healthz", HealthHandler, {"readiness": readiness}),
            (r"/readyz", ReadyHandler, {"readiness": readiness}),
            (
                rf"/{path.strip('/')}/?",
                UpdateHandler,
                {"server": self, "secret": secret, "flight": self.flight},
            ),
        ]
        web = tornado.web.Application(routes, log_function=lambda _handler: None)
        self._server = tornado.httpserver.HTTPServer(web)

    def attach(self, app: Application) -> None:
        """Hand updates to this application from now on (until then they are answered 503)."""
        self.app = app

    def listen(self, address: str, port: int) -> None:
        """Start taking connections."""
        self._server.listen(port, address=address)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Take no more connections; let the updates being stored reach the queue."""
        self._server.stop()
        try:
            await asyncio.wait_for(self.flight.idle.wait(), grace_s)
        except TimeoutError:
            log.warning("%d webhook requests still in flight at shutdown", self.flight.count)
        await self._server.close_all_connections()


async def serve(
    app: Application,
    *,
    server: WebhookServer,
    webhook_url: str,
    secret: str | None,
    allowed_updates: list[str],
) -> None:
    """Run the application behind the webhook server (listening already: /healthz answers)
    until SIGTERM or SIGINT, then stop it gracefully: no new updates are taken, every update
    taken is handled."""
    readiness = server.readiness
    if isinstance(app.update_queue, InboxQueue):
        # each update stored before its 200, one by one (no getUpdates confirms a batch here)
        app.update_queue.store_before_confirming = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    await app.initialize()  # getMe: a refused token or an unreachable Bot API stops here
    try:
        server.attach(app)  # updates are stored from here on; /readyz is 200 once started
        if app.post_init:
            await app.post_init(app)
        await app.bot.set_webhook(
            url=webhook_url,
            secret_token=secret,
            allowed_updates=allowed_updates,
        )
        await app.start()
        readiness.started = True
        log.info("ready: taking updates")
        await stop.wait()
        log.info("stopping: finishing the updates in hand")
        readiness.stopping = True
        await server.stop()
        await app.stop()  # handles every update already queued, waits for running jobs
        if app.post_stop:
            await app.post_stop(app)
        log.info("stopped")
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        if app.running:
            await app.stop()
        await app.shutdown()

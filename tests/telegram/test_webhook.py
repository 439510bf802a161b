"""The webhook server: the secret token, the update put into the application's queue before the
200, and what /healthz and /readyz say (the whole process: tests/e2e/test_replicas.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
from telegram import Update
from telegram.ext import Application

from bot.schema import head, not_current, open_database
from bot.storage.db import Database
from bot.telegram.webhook import Readiness, WebhookServer

UPDATE = {
    "update_id": 77,
    "message": {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Pat"},
        "text": "hello",
    },
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_updates_need_the_secret_and_reach_the_queue_before_the_200() -> None:
    async def scenario() -> None:
        app = Application.builder().token("1:TEST").updater(None).build()
        reasons: list[str | None] = [None]
        readiness = Readiness(check_database=lambda: reasons[0], process="p1")
        server = WebhookServer(app, "hookpath", "s3cret", readiness)
        port = _port()
        server.listen("127.0.0.1", port)
        base = f"http://127.0.0.1:{port}"
        json_headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {"status": "starting", "process": "p1"}
            starting = await client.get("/readyz")
            assert starting.status_code == 503 and "starting" in starting.json()["reason"]

            wrong = {**json_headers, "X-Telegram-Bot-Api-Secret-Token": "nope"}
            assert (await client.post("/hookpath", json=UPDATE, headers=wrong)).status_code == 403
            assert (await client.post("/hookpath", json=UPDATE)).status_code == 403
            right = {**json_headers, "X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            bad = await client.post("/hookpath", content=b"{not json", headers=right)
            assert bad.status_code == 400
            assert app.update_queue.empty()
            ok = await client.post("/hookpath", json=UPDATE, headers=right)
            assert ok.status_code == 200
            queued = app.update_queue.get_nowait()  # there when the 200 came
            assert isinstance(queued, Update) and queued.update_id == 77

            readiness.started = True
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/healthz")).json()["status"] == "alive"
            reasons[0] = "the database is at revision 0004, this release needs 0010"
            readiness._checked_at = -1e9  # (the check is cached for a second)
            behind = await client.get("/readyz")
            assert behind.status_code == 503 and "0004" in behind.json()["reason"]
            reasons[0] = None
            readiness._checked_at = -1e9
            readiness.stopping = True
            stopping = await client.get("/readyz")
            assert stopping.status_code == 503 and stopping.json()["reason"] == "shutting down"
        await server.stop(grace_s=1)

    asyncio.run(scenario())


def test_during_start_up_healthz_answers_and_readyz_and_updates_wait_for_the_application() -> None:
    async def scenario() -> None:
        checked: list[str] = []

        def check_database() -> str | None:
            checked.append("db")
            return None

        readiness = Readiness(check_database=check_database, process="p1")
        server = WebhookServer(None, "hookpath", "s3cret", readiness)  # no application yet
        port = _port()
        server.listen("127.0.0.1", port)
        right = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "starting"
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reason"] == "starting (loading models)"
            assert checked == [], "no database to check while the services are being built"
            early = await client.post("/hookpath", json=UPDATE, headers=right)
            assert early.status_code == 503, "nowhere to store it: Telegram delivers it again"
            wrong = {**right, "X-Telegram-Bot-Api-Secret-Token": "nope"}
            assert (await client.post("/hookpath", json=UPDATE, headers=wrong)).status_code == 403

            app = Application.builder().token("1:TEST").updater(None).build()
            server.attach(app)
            assert (await client.post("/hookpath", json=UPDATE, headers=right)).status_code == 200
            assert app.update_queue.get_nowait().update_id == 77
            readiness.started = True
            assert (await client.get("/readyz")).status_code == 200 and checked == ["db"]
        await server.stop(grace_s=1)

    asyncio.run(scenario())


def test_readiness_knows_a_database_behind_this_release(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    empty = Database(url)
    assert "(none)" in (not_current(empty, head()) or "")
    empty.close()
    db = open_database(url)
    assert not_current(db, head()) is None
    db.close()

"""The schema evolves by Alembic revisions: a new database, the release of 2026-11-23's, a newer one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.accounts.service import AccountService
from bot.domain import Role
from bot.schema import SchemaError, head, migrate, open_database, revision
from bot.storage.db import Base, Database
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "release-2026-11-23.sqlite3"


def test_the_migrated_schema_is_the_one_the_code_declares(database_url: str) -> None:
    db = open_database(database_url)
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.close()
    assert diffs == [], "a model changed without a migration (scripts/new_migration.py)"


def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    from alembic import command

    from bot.schema import alembic_config

    db = open_database(database_url)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert revision(db).current is None
    assert migrate(db).current == head()
    db.close()


def test_0005_marks_the_queued_questions_asked_in_a_group(database_url: str) -> None:
    from alembic import command

    from bot.schema import alembic_config

    db = open_database(database_url)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    with db.engine.begin() as c:
        for item_id, chat_id in ((1, 200), (2, -500)):  # asked privately, asked in a group
            c.execute(
                text(
                    "INSERT INTO escalations (id, user_id, chat_id, question, language, reason, "
                    "status, created_at) VALUES (:id, 200, :chat, 'q', 'en', 'downvote', 'open', "
                    "CURRENT_TIMESTAMP)"
                ),
                {"id": item_id, "chat": chat_id},
            )
    assert migrate(db).current == head()
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT id, in_group FROM escalations ORDER BY id")).all()
    db.close()
    assert [(i, bool(g)) for i, g in rows] == [(1, False), (2, True)]


def test_a_database_of_the_release_of_2026_11_23_upgrades_with_every_row(tmp_path: Path) -> None:
    copy = tmp_path / "bot.sqlite3"
    shutil.copy(FIXTURE, copy)
    expected = json.loads(FIXTURE.with_suffix(".json").read_text())["counts"]
    db = open_database(f"sqlite:///{copy}")
    assert revision(db).current == head()
    with db.engine.connect() as c:
        found = {t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in expected}
        columns = {row[1] for row in c.execute(text("PRAGMA table_info(documents)"))}
    assert found == expected, "rows lost in the upgrade"
    assert "chunk_count" not in columns
    official = AccountService(db, [100], [1]).person(300)
    assert official.role is Role.PARTNER and official.partner == "Düsseldorf"
    assert official.language == "de"
    db.close()


def test_a_database_newer_than_this_release_is_refused(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    with db.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="9999"):
        migrate(db)
    db.close()


def test_db_current_and_upgrade_on_the_command_line(tmp_path: Path) -> None:
    def db(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--data-dir", str(tmp_path / "data"), "db", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "(none)" in db("current").stdout
    upgraded = db("upgrade")
    assert upgraded.returncode == 0 and f"database revision: {head()}" in upgraded.stdout
    assert "up to date" in db("current").stdout
    database = Database(f"sqlite:///{tmp_path / 'data' / 'exchange_bot.sqlite3'}")
    with database.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.close()
    refused = db("upgrade")
    assert refused.returncode == 1 and "newer release" in refused.stderr


def test_two_processes_starting_at_once_migrate_once(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_database(url).close()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = Database(url)
    assert revision(db).current == head()
    db.close()


def test_0011_and_0012_upgrade_a_database_of_0010_with_its_rows(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from alembic import command

    from bot.schema import alembic_config
    from bot.storage.inbox import Inbox

    db = open_database(database_url)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
    now = datetime.now(UTC)
    with db.engine.begin() as c:
        c.execute(
            text(
                'INSERT INTO meetings (id, uid, partner, title, start, "end", home_timezone, '
                "partner_timezone, video_url, status, sequence, created_at, updated_at) VALUES "
                "(1, 'u1', 'Riverton', 'Call', :start, :end, 'Asia/Seoul', 'America/Los_Angeles', "
                "'https://meet.example/r', 'booked', 0, :now, :now)"
            ),
            {"start": now + timedelta(hours=1), "end": now + timedelta(hours=2), "now": now},
        )
        for invitee_id, user_id in ((1, 100), (2, 300)):
            c.execute(
                text(
                    "INSERT INTO meeting_invitees (id, meeting_id, user_id, language, timezone, "
                    "name, role) VALUES (:id, 1, :user, 'en', 'Asia/Seoul', '', 'attendee')"
                ),
                {"id": invitee_id, "user": user_id},
            )
        c.execute(  # one sent, one held by a process stopped for the upgrade
            text(
                "INSERT INTO meeting_reminders (id, meeting_id, offset_minutes, due_at, status, "
                "sent_at, claimed_by, claimed_until) VALUES "
                "(1, 1, 1440, :past, 'sent', :past, NULL, NULL), "
                "(2, 1, 15, :due, 'pending', NULL, 'old:1', :past)"
            ),
            {"past": now - timedelta(hours=23), "due": now - timedelta(minutes=1)},
        )
        for update_id, done in ((41, now), (42, None)):
            c.execute(
                text(
                    "INSERT INTO inbox (update_id, body, received_at, done_at, sender, attempts) "
                    "VALUES (:id, :body, :now, :done, 7, 0)"
                ),
                {
                    "id": update_id,
                    "body": f'{{"update_id": {update_id}}}',
                    "now": now,
                    "done": done,
                },
            )
    assert migrate(db).current == head()
    with db.engine.connect() as c:
        reminders = c.execute(text("SELECT id, status FROM meeting_reminders ORDER BY id")).all()
        inbox = c.execute(text("SELECT bot_id, update_id FROM inbox ORDER BY update_id")).all()
        deliveries = c.execute(text("SELECT count(*) FROM meeting_reminder_deliveries")).scalar()
    assert [tuple(r) for r in reminders] == [(1, "sent"), (2, "pending")]
    assert [tuple(r) for r in inbox] == [(0, 41), (0, 42)], "kept, of no bot yet"
    assert deliveries == 0
    inbox_of = Inbox(db, 123456)
    assert inbox_of.adopt() == 2 and inbox_of.pending() == [{"update_id": 42}]
    from bot.scheduling.service import SchedulingService
    from tests.scheduling import directory

    service = SchedulingService(db, directory())
    taken = service.claim_due_reminders("new:1")
    assert [(r.id, [i.user_id for i in r.recipients]) for r in taken] == [(2, [100, 300])]
    db.close()

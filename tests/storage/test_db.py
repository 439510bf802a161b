"""The database's SQLite settings: the write-ahead log, and whether each commit syncs the disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.storage.db import Database


@pytest.mark.parametrize(("setting", "value"), [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_syncs_each_commit_only_when_told(tmp_path: Path, setting: str, value: int) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}", setting)
    try:
        with db.session() as s:
            assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert s.execute(text("PRAGMA synchronous")).scalar() == value
    finally:
        db.close()


def test_the_default_is_normal_and_full_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).sqlite_synchronous == "NORMAL"  # type: ignore[call-arg]
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "FULL")
    assert Settings(_env_file=None).sqlite_synchronous == "FULL"  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Database("sqlite://", "OFF")

"""Shared helpers for the scheduling tests: a directory, a fixed clock, a fresh database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from bot.scheduling.directory import Directory
from bot.schema import open_database
from bot.storage.db import Database

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
LA = ZoneInfo("America/Los_Angeles")

DIRECTORY_YAML = """\
home:
  name: Hanbit
  aliases: [한빛]
  timezone: Asia/Seoul
  country: KR
  working_hours: "09:00-18:00"
partners:
  - name: Düsseldorf
    aliases: [뒤셀도르프, Duesseldorf]
    country: DE
    subdivision: NW
    timezone: Europe/Berlin
    working_hours: "09:00-17:00"
    language: de
  - name: Bien Hoa
    aliases: [비엔호아, Biên Hòa]
    country: VN
    timezone: Asia/Ho_Chi_Minh
    working_hours: "07:30-16:30"
    language: vi
  - name: Riverton
    aliases: [리버턴]
    country: US
    subdivision: OR
    timezone: America/Los_Angeles
    working_hours: "08:00-17:00"
    language: en
  - name: Spreeburg
    aliases: [슈프레부르크]
    country: DE
    subdivision: BE
    timezone: Europe/Berlin
    working_hours: "09:00-17:00"
    language: de
"""


def directory() -> Directory:
    """Return the test directory (Düsseldorf NW, Bien Hoa, Riverton OR, Spreeburg in Berlin)."""
    return Directory.from_dict(yaml.safe_load(DIRECTORY_YAML))


def write_directory(path: Path, text: str = DIRECTORY_YAML) -> Path:
    """Write a directory file and return its path."""
    path.write_text(text, "utf-8")
    return path


def seoul(*args: int) -> datetime:
    """Return an aware Seoul time."""
    return datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def database(url: str) -> Database:
    """Open (and migrate) the database at `url`."""
    return open_database(url)

"""Turn a sentence ("다음 주 화요일 오후 4시에 뒤셀도르프와 1시간") into a meeting request.

The rule-based parser covers the common Korean and English phrasings; `LLMMeetingParser` asks a chat
model for validated structured output instead. `dateparser` is deliberately not used: it misreads
common Korean phrasings. The words and patterns it reads are in words.py; this module resolves
their matches into a partner, a date, a time and a length.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from bot.scheduling.directory import NAME_SEPARATORS, City, Directory, fold_letters
from bot.scheduling.words import (
    AFTER_CITY_TIME,
    AFTERNOON,
    DATES,
    DURATION_HOURS,
    DURATION_MINUTES,
    EN_MONTHS,
    EN_NUMBERS,
    EN_WEEKDAYS,
    KO_NUMBERS,
    KO_WEEKDAYS,
    KO_WEEKS_AHEAD,
    MIDDAY,
    MORNING,
    TIMES,
    TITLES,
    ZONE_HOME,
    ZONE_PARTNER,
)

log = logging.getLogger(__name__)

TimeZoneOf = Literal["home", "partner"]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class MeetingRequest:
    """What a sentence asked for: partner, aware start (home zone), length, optional title."""

    partner: City
    start: datetime
    duration_minutes: int
    title: str | None = None
    tz_of_time: TimeZoneOf = "home"


@dataclass
class ParsedFields:
    """Whatever could be read from a sentence, complete or not."""

    partner: City | None = None
    day: date | None = None
    at: time | None = None
    duration_minutes: int | None = None
    title: str | None = None
    tz_of_time: TimeZoneOf = "home"
    bare_weekday: bool = False  # "Friday": move a week on if that time today has passed


class MeetingParseError(ValueError):
    """The sentence lacks something; `missing` names it (partner, date, time, duration)."""

    def __init__(self, missing: list[str], partial: ParsedFields, detail: str = "") -> None:
        self.missing = missing
        self.partial = partial
        message = f"could not read the {', '.join(missing)}" if missing else "could not read it"
        super().__init__(f"{message}{': ' + detail if detail else ''}")


def _blank(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]


def _hour_24(hour: int, minute: int, meridiem: str | None) -> time | None:
    if meridiem in MORNING:
        hour = 0 if hour == 12 else hour
    elif meridiem in AFTERNOON:
        hour = hour if hour == 12 else hour + 12
    elif meridiem in MIDDAY:
        hour = hour if hour >= 11 else hour + 12
    elif 1 <= hour <= 7:
        hour += 12  # "3시", "at 4": nobody books a partner call at 4 in the morning
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


class RuleBasedParser:
    """Read partner, date, time, duration and title from common Korean and English sentences."""

    def __init__(self, directory: Directory, clock: Clock | None = None) -> None:
        self.directory = directory
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cities = self._city_patterns()
        self._home_names = [
            re.compile(re.escape(fold_letters(n)) + r"\s*(?:시간|time\b)")
            for n in directory.home.names()
        ]

    def _city_patterns(self) -> list[tuple[re.Pattern[str], City]]:
        patterns = []
        for city in self.directory.partners:
            for name in city.names():
                parts = [
                    re.escape(p) for p in re.split(NAME_SEPARATORS + "+", fold_letters(name)) if p
                ]
                if not parts:
                    continue
                body = (NAME_SEPARATORS + "*").join(parts)
                # Latin names need word edges; Korean names are followed by particles (뒤셀도르프와)
                left = r"(?<![a-z0-9])" if parts[0][0].isascii() else ""
                right = r"(?![a-z0-9])" if parts[-1][-1].isascii() else ""
                patterns.append((re.compile(left + body + right), city))
        patterns.sort(key=lambda pc: -len(pc[0].pattern))
        return patterns

    def parse(self, text: str, default_duration: int | None = None) -> MeetingRequest:
        """Return the request, or raise MeetingParseError naming what is missing."""
        fields = self.read(text)
        if fields.duration_minutes is None and default_duration is not None:
            fields.duration_minutes = default_duration
        missing = missing_fields(fields)
        if missing:
            raise MeetingParseError(missing, fields)
        assert fields.partner and fields.day and fields.at and fields.duration_minutes
        return build_request(fields, self.directory.home, self._now())

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        return now

    def read(self, text: str) -> ParsedFields:
        """Return whatever fields the sentence contains (nothing is required here)."""
        fields = ParsedFields()
        text = unicodedata.normalize("NFC", text)
        for pattern in TITLES:
            match = pattern.search(text)
            if match:
                fields.title = match.group(1).strip(" .,;:")
                text = text[: match.start()] + " " + text[match.end() :]
                break
        s = fold_letters(text)
        s = self._read_partner(s, fields)
        s = self._read_zone(s, fields)
        s = self._read_hour_durations(s, fields)
        s = self._read_date(s, fields)
        s = self._read_time(s, fields)
        if fields.duration_minutes is None:
            match = DURATION_MINUTES.search(s)
            if match:
                fields.duration_minutes = int(match.group(1))
                s = _blank(s, match)
        return fields

    def _read_partner(self, s: str, fields: ParsedFields) -> str:
        for pattern, city in self._cities:
            matches = list(pattern.finditer(s))
            if not matches:
                continue
            fields.partner = city
            for (
                match
            ) in matches:  # "비엔호아와 1시간, 비엔호아 시간으로": any mention may carry the zone
                after = AFTER_CITY_TIME.match(s, match.end())
                if after:
                    fields.tz_of_time = "partner"
                    s = _blank(s, after)
                s = _blank(s, match)
            return s
        return s

    def _read_zone(self, s: str, fields: ParsedFields) -> str:
        for pattern in self._home_names:
            match = pattern.search(s)
            if match:
                fields.tz_of_time = "home"
                return _blank(s, match)
        match = ZONE_HOME.search(s)
        if match:
            fields.tz_of_time = "home"
            return _blank(s, match)
        match = ZONE_PARTNER.search(s)
        if match:
            fields.tz_of_time = "partner"
            return _blank(s, match)
        return s

    def _read_hour_durations(self, s: str, fields: ParsedFields) -> str:
        for pattern, kind in DURATION_HOURS:
            match = pattern.search(s)
            if not match:
                continue
            minutes = _hour_duration(kind, match)
            if minutes:
                fields.duration_minutes = minutes
                return _blank(s, match)
        return s

    def _read_date(self, s: str, fields: ParsedFields) -> str:
        today = self._now().astimezone(self.directory.home.tz).date()
        for pattern, kind in DATES:
            match = pattern.search(s)
            if not match:
                continue
            day = _resolve_date(kind, match, today)
            if day is None:
                continue
            fields.day = day
            fields.bare_weekday = kind in ("ko_wd", "en_wd")
            return _blank(s, match)
        return s

    def _read_time(self, s: str, fields: ParsedFields) -> str:
        for pattern, kind in TIMES:
            match = pattern.search(s)
            if not match:
                continue
            at = _resolve_time(kind, match)
            if at is not None:
                fields.at = at
                return _blank(s, match)
        return s


def _hour_duration(kind: str, m: re.Match[str]) -> int | None:
    if kind == "ko_h":
        minutes = float(m.group(1)) * 60 + (int(m.group(2)) if m.group(2) else 0)
        return round(minutes + (30 if m.group(3) else 0))
    if kind == "ko_word_h":
        return KO_NUMBERS[m.group(1)] * 60 + (30 if m.group(2) else 0)
    if kind == "half":
        return 30
    if kind == "en_word_and_half":
        return EN_NUMBERS[m.group(1)] * 60 + 30
    if kind == "en_word_h":
        return EN_NUMBERS[m.group(1)] * 60 + (30 if m.group(2) else 0)
    if kind == "en_h":
        return round(float(m.group(1)) * 60) + (int(m.group(2)) if m.group(2) else 0)
    if kind == "en_hm":
        return int(m.group(1)) * 60 + int(m.group(2))
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _upcoming(month: int, day: int, today: date) -> date | None:
    """Return this year's month/day, or next year's once it has passed."""
    found = _safe_date(today.year, month, day)
    if found is not None and found < today:
        found = _safe_date(today.year + 1, month, day)
    return found


def _weekday_in_week(weekday: int, today: date, weeks_ahead: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _resolve_date(kind: str, m: re.Match[str], today: date) -> date | None:
    g = m.groups()
    if kind == "ymd":
        return _safe_date(int(g[0]), int(g[1]), int(g[2]))
    if kind == "ko_ymd":
        if g[0]:
            return _safe_date(int(g[0]), int(g[1]), int(g[2]))
        return _upcoming(int(g[1]), int(g[2]), today)
    if kind == "en_md":
        month, day, year = EN_MONTHS[g[0]], int(g[1]), g[2]
        return _safe_date(int(year), month, day) if year else _upcoming(month, day, today)
    if kind == "en_dm":
        day, month, year = int(g[0]), EN_MONTHS[g[1]], g[2]
        return _safe_date(int(year), month, day) if year else _upcoming(month, day, today)
    if kind == "md":
        return _upcoming(int(g[0]), int(g[1]), today)
    if kind == "ko_week_wd":
        word = re.sub(r"\s+", "", g[0])
        weeks = KO_WEEKS_AHEAD[word]
        return _weekday_in_week(KO_WEEKDAYS.index(g[1]), today, weeks)
    if kind == "ko_rel_wd":
        weekday = KO_WEEKDAYS.index(g[1])
        if g[0] == "다음":
            return _weekday_in_week(weekday, today, 1)
        return _this_or_coming(weekday, today)
    if kind == "en_rel_wd":
        weekday = EN_WEEKDAYS[g[1]]
        if g[0] == "next":
            return _weekday_in_week(weekday, today, 1)
        return _this_or_coming(weekday, today)
    if kind == "en_wd_week":
        return _weekday_in_week(EN_WEEKDAYS[g[0]], today, 1 if g[1] == "next" else 0)
    if kind == "en_week_wd":
        return _weekday_in_week(EN_WEEKDAYS[g[1]], today, 1 if g[0] == "next" else 0)
    if kind in ("ko_wd", "en_wd"):
        weekday = KO_WEEKDAYS.index(g[0]) if kind == "ko_wd" else EN_WEEKDAYS[g[0]]
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    if kind.startswith("rel"):
        return today + timedelta(days=int(kind[3:]))
    if kind in ("ko_in_days", "en_in_days"):
        return today + timedelta(days=int(g[0]))
    if kind == "ko_dom":
        day = int(g[0])
        found = _safe_date(today.year, today.month, day)
        if found is None or found < today:
            year, month = (
                (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
            )
            found = _safe_date(year, month, day)
        return found
    return None


def _this_or_coming(weekday: int, today: date) -> date:
    """Return this week's weekday, or the coming one when this week's has passed."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _resolve_time(kind: str, m: re.Match[str]) -> time | None:
    g = m.groups()
    if kind == "noon":
        return time(12, 0)
    if kind == "ko_colon":
        return _hour_24(int(g[1]), int(g[2]), g[0]) if g[0] else _plain_24(int(g[1]), int(g[2]))
    if kind == "ko":
        hour = int(g[1]) if g[1] else KO_NUMBERS[g[2]]
        minute = int(g[3]) if g[3] else (30 if g[4] else 0)
        if g[0] is None and hour >= 13:
            return _plain_24(hour, minute)
        return _hour_24(hour, minute, g[0])
    if kind == "en_ampm":
        hour, minute = int(g[0]), int(g[1]) if g[1] else 0
        if not 1 <= hour <= 12:
            return None
        return _hour_24(hour, minute, g[2])
    if kind in ("en_oclock", "en_at"):
        return _hour_24(int(g[0]), 0, None)
    return None


def _plain_24(hour: int, minute: int) -> time | None:
    """Read `15:00` as is and `3:30` as the afternoon (working-hours guess)."""
    if hour >= 13 or hour == 0:
        return time(hour, minute) if hour <= 23 and minute <= 59 else None
    return _hour_24(hour, minute, None)


def missing_fields(fields: ParsedFields) -> list[str]:
    """Return the names of the required fields not read yet, in asking order."""
    required = (
        ("partner", fields.partner),
        ("date", fields.day),
        ("time", fields.at),
        ("duration", fields.duration_minutes),
    )
    return [name for name, value in required if value is None]


def build_request(fields: ParsedFields, home: City, now: datetime) -> MeetingRequest:
    """Combine complete fields into a request; the date and time are read in the chosen zone."""
    assert fields.partner and fields.day and fields.at and fields.duration_minutes
    zone = fields.partner.tz if fields.tz_of_time == "partner" else home.tz
    day = fields.day
    start = _aware(day, fields.at, zone)
    if fields.bare_weekday and start < now:
        start = _aware(
            day + timedelta(days=7), fields.at, zone
        )  # "Friday" said on a Friday evening
    return MeetingRequest(
        partner=fields.partner,
        start=start.astimezone(home.tz),
        duration_minutes=fields.duration_minutes,
        title=fields.title,
        tz_of_time=fields.tz_of_time,
    )


def _aware(day: date, at: time, zone: Any) -> datetime:
    # a time inside a DST gap (02:30 on the spring-forward night) moves to the real instant
    return datetime.combine(day, at, zone).astimezone(UTC).astimezone(zone)


def parse_meeting_request(
    text: str, directory: Directory, now: datetime, default_duration: int | None = None
) -> MeetingRequest:
    """Parse one sentence with the rule-based parser at a fixed `now`."""
    return RuleBasedParser(directory, lambda: now).parse(text, default_duration)


# ---------------------------------------------------------------------------------------------
# LLM path


class MeetingFields(BaseModel):
    """The structured output asked of a chat model; validated before anything is booked."""

    partner: str | None = Field(default=None, description="partner city as the user wrote it")
    date: str | None = Field(default=None, description="meeting date as YYYY-MM-DD")
    time: str | None = Field(default=None, description="start time as HH:MM, 24-hour clock")
    duration_minutes: int | None = Field(
        default=None, gt=0, le=720, description="length in minutes, null if the user did not say"
    )
    title: str | None = Field(default=None, description="meeting title if the user gave one")
    tz_of_time: TimeZoneOf = Field(
        default="home",
        description="'partner' if the time is in the partner city's local time, else 'home'",
    )

    @field_validator("date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.fullmatch(r"\d{1,2}:\d{2}", value):
            raise ValueError("expected HH:MM")
        value = value.zfill(5)
        time.fromisoformat(value)
        return value


LLM_PROMPT = (
    "Extract a video-meeting request from the user's message. Today is {today} ({weekday}) in "
    "{home} (time zone {home_tz}). Partner cities: {partners}. Resolve relative dates such as "
    "'next Tuesday' or '다음 주 화요일' (the Tuesday of next week; weeks start on Monday) to a "
    "calendar date. If the time is meant in the partner city's local time ('their time', "
    "'현지 시간', '<city> 시간으로'), set tz_of_time to 'partner'. Leave out what the message "
    "does not say.\n\nMessage: {text}"
)


def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LLMMeetingParser:
    """Ask a chat model for structured output, validate it, fall back to the rules on failure."""

    chat_model: Any
    directory: Directory
    clock: Clock = _system_now
    fallback: RuleBasedParser | None = None
    # None: langchain's default; "function_calling" or "json_mode" for servers without json_schema
    method: str | None = None

    def parse(self, text: str, default_duration: int | None = None) -> MeetingRequest:
        """Return the request read by the model (or by the fallback parser if the model fails)."""
        try:
            return self._parse(text, default_duration)
        except Exception as exc:
            if self.fallback is not None:
                log.warning("LLM meeting parser failed (%s); using the rules", type(exc).__name__)
                return self.fallback.parse(text, default_duration)
            if isinstance(exc, MeetingParseError):
                raise
            if isinstance(exc, ValueError):  # pydantic's ValidationError included
                raise MeetingParseError([], ParsedFields(), f"invalid model output: {exc}") from exc
            raise

    def _parse(self, text: str, default_duration: int | None) -> MeetingRequest:
        now = self.clock()
        home = self.directory.home
        today = now.astimezone(home.tz).date()
        prompt = LLM_PROMPT.format(
            today=today.isoformat(),
            weekday=f"{today:%A}",
            home=home.name,
            home_tz=home.timezone,
            partners=", ".join(c.name for c in self.directory.partners),
            text=text,
        )
        kwargs = {"method": self.method} if self.method else {}
        raw = self.chat_model.with_structured_output(MeetingFields, **kwargs).invoke(prompt)
        out = raw if isinstance(raw, MeetingFields) else MeetingFields.model_validate(raw)
        partner = None
        if out.partner:
            partner = self.directory.find(out.partner)
            if partner is None:  # "Düsseldorf city" or a phrase: look for a name inside it
                rules = self.fallback or RuleBasedParser(self.directory, self.clock)
                partner = rules.read(out.partner).partner
        parsed = ParsedFields(
            partner=partner,
            day=date.fromisoformat(out.date) if out.date else None,
            at=time.fromisoformat(out.time) if out.time else None,
            duration_minutes=out.duration_minutes or default_duration,
            title=out.title,
            tz_of_time=out.tz_of_time,
        )
        missing = missing_fields(parsed)
        if missing:
            raise MeetingParseError(missing, parsed)
        return build_request(parsed, home, now)

"""Slot rules across two cities: working hours, weekends, holidays, bookings, the past."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.scheduling.directory import City

GRID = timedelta(minutes=30)
MAX_DURATION = timedelta(hours=12)


@dataclass(frozen=True)
class Busy:
    """A booked interval that new meetings must not overlap."""

    start: datetime
    end: datetime
    meeting_id: int | None = None
    title: str = ""


@dataclass(frozen=True)
class Slot:
    """A proposed meeting time; `start` and `end` are aware (home time zone)."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """Return the length of the slot."""
        return self.end - self.start

    def local(self, city: City) -> tuple[datetime, datetime]:
        """Return start and end in the city's time zone."""
        return self.start.astimezone(city.tz), self.end.astimezone(city.tz)


@dataclass(frozen=True)
class Violation:
    """One broken rule: a machine-readable `rule`, an English `reason`, details to translate."""

    rule: str  # past | duration | weekend | holiday | hours | overlap
    reason: str
    city: str | None = None
    detail: dict[str, object] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return self.reason


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")


def _local_dates(start: datetime, end: datetime) -> list[date]:
    """Return the local dates the half-open interval [start, end) touches (one zone)."""
    last = (end - timedelta(microseconds=1)).date()
    days, day = [], start.date()
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


def _city_violations(city: City, start: datetime, end: datetime) -> list[Violation]:
    local_start, local_end = start.astimezone(city.tz), end.astimezone(city.tz)
    found: list[Violation] = []
    for day in _local_dates(local_start, local_end):
        if day.weekday() >= 5:
            found.append(
                Violation(
                    "weekend",
                    f"weekend in {city.name} ({day:%A %Y-%m-%d})",
                    city.name,
                    {"date": day},
                )
            )
        name = city.holiday(day)
        if name:
            region = f"{city.country}-{city.subdivision}" if city.subdivision else city.country
            found.append(
                Violation(
                    "holiday",
                    f'holiday "{name}" in {region} ({day.isoformat()})',
                    city.name,
                    {
                        "date": day,
                        "holiday": name,
                        "country": city.country,
                        "subdivision": city.subdivision,
                    },
                )
            )
    hours = city.working_hours
    inside = (
        local_start.date() == local_end.date()
        and hours.start <= local_start.time()
        and local_end.time() <= hours.end
    )
    if not inside:
        span = f"{local_start:%H:%M}–{local_end:%H:%M}"
        if local_end.date() != local_start.date():
            span += f" (+{(local_end.date() - local_start.date()).days}d)"
        found.append(
            Violation(
                "hours",
                f"outside working hours in {city.name} ({span} local; working hours {hours})",
                city.name,
                {"local_start": local_start, "local_end": local_end, "working_hours": str(hours)},
            )
        )
    return found


def check(
    start: datetime,
    duration: timedelta,
    home: City,
    partner: City,
    *,
    busy: Iterable[Busy] = (),
    now: datetime | None = None,
) -> list[Violation]:
    """Return every rule the meeting breaks (empty when it may be booked)."""
    _require_aware(start, "start")
    now = now if now is not None else datetime.now(UTC)
    _require_aware(now, "now")
    found: list[Violation] = []
    if duration <= timedelta(0) or duration > MAX_DURATION:
        found.append(
            Violation(
                "duration",
                f"duration must be between 1 minute and {MAX_DURATION.seconds // 3600} hours",
                detail={"minutes": duration.total_seconds() / 60},
            )
        )
        return found
    end = start + duration
    if start < now:
        found.append(
            Violation("past", f"in the past (now is {now.astimezone(home.tz):%Y-%m-%d %H:%M %Z})")
        )
    found += _city_violations(home, start, end)
    found += _city_violations(partner, start, end)
    for b in sorted(busy, key=lambda b: b.start):
        if b.start < end and start < b.end:
            label = f"meeting #{b.meeting_id}" if b.meeting_id is not None else "a booked meeting"
            title = f" “{b.title}”" if b.title else ""
            s, e = b.start.astimezone(home.tz), b.end.astimezone(home.tz)
            found.append(
                Violation(
                    "overlap",
                    f"overlaps {label}{title} ({s:%Y-%m-%d %H:%M}–{e:%H:%M} {tz_abbrev(s, 'en')})",
                    detail={
                        "meeting_id": b.meeting_id,
                        "start": b.start,
                        "end": b.end,
                        "title": b.title,
                    },
                )
            )
    return found


def _grid(day: date, tz: tzinfo, step: timedelta) -> Iterable[datetime]:
    """Yield the existing local times of a day on the grid (skipping a DST gap)."""
    minutes = 0
    step_min = int(step.total_seconds() // 60)
    while minutes < 24 * 60:
        naive = datetime.combine(day, time(minutes // 60, minutes % 60))
        aware = naive.replace(tzinfo=tz)
        if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
            yield aware
        minutes += step_min


def find_slots(
    home: City,
    partner: City,
    first_day: date,
    days: int,
    duration: timedelta,
    *,
    busy: Iterable[Busy] = (),
    now: datetime | None = None,
    step: timedelta = GRID,
) -> list[Slot]:
    """Return the valid start times on the home-time grid for `days` home dates from `first_day`."""
    busy = list(busy)
    now = now if now is not None else datetime.now(UTC)
    slots = []
    for offset in range(max(days, 0)):
        for start in _grid(first_day + timedelta(days=offset), home.tz, step):
            if not check(start, duration, home, partner, busy=busy, now=now):
                slots.append(Slot(start, start + duration))
    return slots


def nearest(
    start: datetime,
    duration: timedelta,
    home: City,
    partner: City,
    *,
    busy: Iterable[Busy] = (),
    now: datetime | None = None,
    count: int = 3,
    window_days: int = 14,
) -> list[Slot]:
    """Return up to `count` valid slots closest to `start` (within `window_days`), in time order."""
    _require_aware(start, "start")
    now = now if now is not None else datetime.now(UTC)
    today = now.astimezone(home.tz).date()
    wanted = start.astimezone(home.tz).date()
    first = max(wanted - timedelta(days=window_days), today)
    last = max(wanted, today) + timedelta(days=window_days)
    candidates = find_slots(
        home, partner, first, (last - first).days + 1, duration, busy=busy, now=now
    )
    closest = sorted(candidates, key=lambda s: (abs(s.start - start), s.start))[:count]
    return sorted(closest, key=lambda s: s.start)


# ---------------------------------------------------------------------------------------------
# formatting

_WEEKDAYS = {
    "ko": ("월", "화", "수", "목", "금", "토", "일"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    "vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_GERMAN_ZONES = {"CET": "MEZ", "CEST": "MESZ"}


def _lang(lang: str | None) -> str:
    code = (lang or "en")[:2].lower()
    return code if code in _WEEKDAYS else "en"


def tz_abbrev(moment: datetime, lang: str | None = None) -> str:
    """Return the zone abbreviation of an aware time: `KST`, `MESZ` in German, `UTC+7`."""
    name = moment.tzname() or ""
    if name[:1] in "+-" and name[1:].isdigit():
        hours, minutes = int(name[1:3]), int(name[3:5] or 0)
        name = f"UTC{name[0]}{hours}" + (f":{minutes:02d}" if minutes else "")
    if _lang(lang) == "de":
        name = _GERMAN_ZONES.get(name, name)
    return name


def format_date(day: date, lang: str | None = None) -> str:
    """Return a short weekday and date: `화 3/31`, `Tue Mar 31`, `Di 31.3.`, `T3 31/3`."""
    code = _lang(lang)
    weekday = _WEEKDAYS[code][day.weekday()]
    if code == "ko":
        return f"{weekday} {day.month}/{day.day}"
    if code == "de":
        return f"{weekday} {day.day}.{day.month}."
    if code == "vi":
        return f"{weekday} {day.day}/{day.month}"
    return f"{weekday} {_MONTHS_EN[day.month - 1]} {day.day}"


def format_local(
    start: datetime, end: datetime | None, tz: tzinfo | str, lang: str | None = None
) -> str:
    """Return one zone's view of a meeting: `Di 31.3. 09:00 MESZ` (or `09:00–10:00` with an end)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    _require_aware(start, "start")
    local = start.astimezone(zone)
    text = f"{format_date(local.date(), lang)} {local:%H:%M}"
    if end is not None:
        local_end = end.astimezone(zone)
        text += f"–{local_end:%H:%M}"
        if local_end.date() != local.date():
            text += f" (+{(local_end.date() - local.date()).days})"
    return f"{text} {tz_abbrev(local, lang)}"


def format_slot(
    start: datetime,
    end: datetime,
    home: City,
    partner: City,
    lang: str | None = None,
    *,
    with_end: bool = False,
) -> str:
    """Return both local times, e.g. `화 3/31 16:00 KST · Di 31.3. 09:00 MESZ`.

    With `lang` both halves use that language; without, each city's half uses its own language.
    """
    stop = end if with_end else None
    return " · ".join(
        (
            format_local(start, stop, home.tz, lang or home.language),
            format_local(start, stop, partner.tz, lang or partner.language),
        )
    )

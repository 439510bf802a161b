"""The partner directory: the home city and each partner city, loaded from YAML and validated."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from bot.domain import NAME_SEPARATORS, CityNames, UnknownCity, fold, fold_letters

__all__ = [
    "NAME_SEPARATORS",
    "City",
    "Directory",
    "DirectoryError",
    "UnknownPartner",
    "WorkingHours",
    "fold",
    "fold_letters",
]

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
# the language a city's staff read when the directory does not say
_COUNTRY_LANGUAGE = {
    "KR": "ko",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "VN": "vi",
    "US": "en",
    "GB": "en",
}


class DirectoryError(ValueError):
    """The directory file is missing or malformed; the message names the entry."""


# the scheduling name of the one "no such city" error (bot.domain), kept for its callers
UnknownPartner = UnknownCity


@dataclass(frozen=True)
class WorkingHours:
    """A city's working day in local time, start inclusive, end exclusive."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Parse `HH:MM-HH:MM`; raise ValueError when malformed or empty."""
        match = _HOURS.match(str(text))
        if not match:
            raise ValueError(f"malformed working hours {text!r} (expected HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise ValueError(f"malformed working hours {text!r} (no such time of day)") from None
        if end <= start:
            raise ValueError(f"malformed working hours {text!r} (the end is not after the start)")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class City:
    """A city: time zone, country (and subdivision) for holidays, working hours, language."""

    name: str
    timezone: str
    country: str
    working_hours: WorkingHours
    subdivision: str | None = None
    aliases: tuple[str, ...] = ()
    language: str = "en"

    @property
    def tz(self) -> ZoneInfo:
        """Return the city's time zone."""
        return ZoneInfo(self.timezone)

    def holiday(self, day: date) -> str | None:
        """Return the name of the public holiday on this local date (in the country's language)."""
        return _holidays(self.country, self.subdivision).get(day)

    def names(self) -> Iterator[str]:
        """Yield the name and every alias."""
        yield self.name
        yield from self.aliases


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    # one calendar per country and subdivision; it fills in years on demand (expand=True)
    base = holidays.country_holidays(country, subdiv=subdivision)
    language = getattr(type(base), "default_language", None)
    if language:
        return holidays.country_holidays(country, subdiv=subdivision, language=language)
    return base


@dataclass(frozen=True)
class Directory:
    """The home city and its partners; `resolve` finds a partner by whatever name it is given."""

    home: City
    partners: tuple[City, ...]
    # the one resolver of partner-city names, shared with accounts and the access filter
    names: CityNames = field(init=False, compare=False, repr=False)
    _by_name: dict[str, City] = field(init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", CityNames(tuple(c.names()) for c in self.partners))
        for city in self.partners:
            self._by_name.setdefault(city.name, city)

    @classmethod
    def load(cls, path: Path | str) -> Directory:
        """Read and validate a directory file; raise DirectoryError naming the bad entry."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text("utf-8"))
        except FileNotFoundError:
            raise DirectoryError(f"partner directory not found: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise DirectoryError(f"{path}: cannot read the partner directory: {exc}") from None
        try:
            return cls.from_dict(data)
        except DirectoryError as exc:
            raise DirectoryError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Any) -> Directory:
        """Build a directory from parsed YAML; raise DirectoryError naming the bad entry."""
        if not isinstance(data, Mapping):
            raise DirectoryError("expected a mapping with `home` and `partners`")
        if "home" not in data:
            raise DirectoryError("`home` is missing")
        home = _city(data["home"], "home")
        raw_partners = data.get("partners") or []
        if not isinstance(raw_partners, list):
            raise DirectoryError("`partners` must be a list")
        partners = tuple(_city(entry, f"partners[{i}]") for i, entry in enumerate(raw_partners))
        seen: dict[str, str] = {}
        for i, city in enumerate(partners):
            for name in set(map(fold, city.names())):
                if name in seen and seen[name] != city.name:
                    raise DirectoryError(
                        f"partners[{i}] ({city.name}): name {name!r} is already used by "
                        f"{seen[name]}"
                    )
                seen[name] = city.name
        return cls(home, partners)

    def resolve(self, text: str) -> City | None:
        """Return the partner a person's words name (alias, any case or accents, with or without
        시 or "city"), or None."""
        name = self.names.resolve(text)
        return self._by_name.get(name) if name is not None else None

    def find(self, name: str) -> City | None:
        """Return the partner whose name or alias matches (the same as `resolve`)."""
        return self.resolve(name)

    def get(self, name: str | City) -> City:
        """Return the partner for a name or alias, or raise UnknownPartner."""
        if isinstance(name, City):
            return name
        city = self.resolve(name)
        if city is None:
            raise UnknownPartner(name, self.names.known)
        return city


def _city(entry: Any, where: str) -> City:
    if not isinstance(entry, Mapping):
        raise DirectoryError(f"{where}: expected a mapping")
    name = entry.get("name")
    label = f"{where} ({name})" if name else where
    if not isinstance(name, str) or not name.strip():
        raise DirectoryError(f"{where}: `name` is missing")
    missing = [k for k in ("timezone", "country", "working_hours") if not entry.get(k)]
    if missing:
        raise DirectoryError(f"{label}: missing {', '.join(missing)}")
    timezone = str(entry["timezone"])
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DirectoryError(f"{label}: unknown time zone {timezone!r}") from None
    country = str(entry["country"]).upper()
    subdivision = entry.get("subdivision")
    subdivision = str(subdivision) if subdivision not in (None, "") else None
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        if country not in holidays.list_supported_countries():
            raise DirectoryError(f"{label}: unknown country {country!r}") from None
        raise DirectoryError(f"{label}: unknown subdivision {subdivision!r} of {country}") from None
    try:
        hours = WorkingHours.parse(entry["working_hours"])
    except ValueError as exc:
        raise DirectoryError(f"{label}: {exc}") from None
    aliases = entry.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
        raise DirectoryError(f"{label}: `aliases` must be a list of names")
    language = str(entry.get("language") or _COUNTRY_LANGUAGE.get(country, "en"))
    return City(
        name=name.strip(),
        timezone=timezone,
        country=country,
        working_hours=hours,
        subdivision=subdivision,
        aliases=tuple(str(a).strip() for a in aliases if str(a).strip()),
        language=language,
    )

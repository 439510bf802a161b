"""The office the bot speaks for: its name, its home city and time zone, from configuration.

Nothing users read names a city of its own: the greeting, the examples, the LLM's prompt and the
time zone of reports and statistics all come from here, built once from OFFICE_NAME and the
partner directory's `home` entry (build_services).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from bot.i18n import t

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def spelt_for(language: str, names: Sequence[str]) -> str:
    """Return the name of a city (its name, then its aliases) a reader of the language reads best.

    Korean readers get its longest Hangul name (한빛시 before 한빛), others its directory name,
    or its first name in other letters when that one is written in Hangul.
    """
    if not names:
        return ""
    hangul = [n for n in names if _HANGUL.search(n)]
    if language == "ko" and hangul:
        return max(hangul, key=len)
    if _HANGUL.search(names[0]):
        return next((n for n in names if not _HANGUL.search(n)), names[0])
    return names[0]


@dataclass(frozen=True)
class Office:
    """Who the bot speaks for: the office's name, its home city, its time zone, its partners.

    `display_name` is OFFICE_NAME, used as given in every language; without it the name is
    derived from the home city ("Hanbit's international-exchange office", worded per language),
    and without a partner directory it is a neutral "the international-exchange office".
    """

    display_name: str = ""
    home: tuple[str, ...] = ()  # the home city's name and aliases (empty without a directory)
    timezone: str = "UTC"  # the home city's zone: reports and statistics count days in it
    partners: tuple[tuple[str, ...], ...] = ()  # each partner's name and aliases, for examples

    @cached_property
    def tz(self) -> ZoneInfo:
        """Return the office's time zone."""
        return ZoneInfo(self.timezone)

    def name(self, language: str) -> str:
        """Return the office's name as a reader of the language reads it."""
        if self.display_name:
            return self.display_name
        if self.home:
            return t("office_of_city", language, home=self.home_name(language))
        return t("office_generic", language)

    def home_name(self, language: str) -> str:
        """Return the home city's name for the language (the time zone's name without one)."""
        return spelt_for(language, self.home) or self.timezone

    def example_partner(self, language: str) -> str:
        """Return a partner city to show in examples: the directory's first, or a placeholder."""
        if self.partners:
            return spelt_for(language, self.partners[0])
        return t("example_city", language)

    def values(self, language: str) -> dict[str, str]:
        """Return the format values every string may use: office, home and example."""
        return {
            "office": self.name(language),
            "home": self.home_name(language),
            "example": self.example_partner(language),
        }

    def t(self, key: str, language: str, /, **values: object) -> str:
        """Return the string for key in the language, with the office's values filled in."""
        # positional-only: strings have fields named `language` and `key` of their own
        return t(key, language, **{**self.values(language), **values})

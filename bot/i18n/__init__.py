"""User-facing strings, one module per language; `t(key, lang)` falls back to English."""

from __future__ import annotations

from bot.i18n import de, en, ko, vi

CATALOGS: dict[str, dict[str, str]] = {
    "ko": ko.STRINGS,
    "en": en.STRINGS,
    "de": de.STRINGS,
    "vi": vi.STRINGS,
}
LANGUAGES = tuple(CATALOGS)


def t(key: str, lang: str | None = None, **values: object) -> str:
    """Return the string for key in lang (English if missing there), formatted with values."""
    catalog = CATALOGS.get((lang or "en")[:2].lower(), en.STRINGS)
    template = catalog.get(key) or en.STRINGS[key]
    return template.format(**values) if values else template


def language_name(code: str, reader: str) -> str:
    """Return a language's name as a reader of `reader` calls it (the code if we have none)."""
    key = f"lang_{code}"
    return t(key, reader) if key in en.STRINGS else code

"""What the scheduling feature says to people: broken rules and refusals, in the reader's language.

The rules (slots.py) and the service report what is wrong as data (`Violation`); the wording is
built here, once for every front-end (the Telegram handlers and anything else showing it).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import t
from bot.scheduling.directory import City
from bot.scheduling.slots import Slot, Violation, format_slot


def violation_text(v: Violation, lang: str) -> str:
    """Translate one broken rule for the reader."""
    d = v.detail
    if v.rule == "weekend":
        return t("rule_weekend", lang, city=v.city, date=d.get("date"))
    if v.rule == "holiday":
        return t("rule_holiday", lang, city=v.city, holiday=d.get("holiday"), date=d.get("date"))
    if v.rule == "hours":
        start, end = d["local_start"], d["local_end"]
        span = f"{start:%H:%M}–{end:%H:%M}"
        return t("rule_hours", lang, city=v.city, span=span, hours=d.get("working_hours"))
    if v.rule == "overlap":
        return t("rule_overlap", lang, id=d.get("meeting_id"), title=d.get("title") or "")
    if v.rule == "duration":
        return t("rule_duration", lang)
    return t("rule_past", lang)


def refusal_text(violations: Sequence[Violation], lang: str) -> str:
    """Return why a time does not work: a heading, then each broken rule on its own line."""
    reasons = "\n".join(f"• {violation_text(v, lang)}" for v in violations)
    return t("meet_refused", lang, reasons=reasons)


def nearest_text(slots: Sequence[Slot], home: City, partner: City, lang: str) -> str:
    """Return the nearest valid slots under a heading, each in both cities' time."""
    lines = [f"• {format_slot(s.start, s.end, home, partner, lang, with_end=True)}" for s in slots]
    return "\n".join([t("meet_nearest", lang), *lines])

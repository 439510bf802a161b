"""The words the meeting-sentence parser reads, in Korean and English.

Weekdays, months, numbers, relative days and weeks, meridiems, durations, time-zone phrases and
title markers. Each pattern comes with a `kind` naming how bot/scheduling/parser.py turns a
match into a date, time or length, so a new phrasing is usually one line here and, for a new
kind, one branch there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KO_WEEKDAYS = "월화수목금토일"
EN_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            "monday mon",
            "tuesday tues tue",
            "wednesday wed",
            "thursday thurs thur thu",
            "friday fri",
            "saturday sat",
            "sunday sun",
        ]
    )
    for name in names.split()
}
EN_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            "january jan",
            "february feb",
            "march mar",
            "april apr",
            "may",
            "june jun",
            "july jul",
            "august aug",
            "september sept sep",
            "october oct",
            "november nov",
            "december dec",
        ],
        start=1,
    )
    for name in names.split()
}
# native Korean numbers as said before 시 (o'clock) and 시간 (hours)
KO_NUMBERS = {
    name: i
    for i, name in enumerate(
        ["한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "열한", "열두"],
        start=1,
    )
}
EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def _alt(words: Iterable[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_WD = _alt(EN_WEEKDAYS)
_MON = _alt(EN_MONTHS)
_KO_NUM = _alt(KO_NUMBERS)
_EN_NUM = _alt(EN_NUMBERS)
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s*(20\d{2}))?"
_DIGIT_L = r"(?<![\d.:/-])"
_DIGIT_R = r"(?![\d])"

# duration with an hour unit (runs before times: "1시간" is not a time)
DURATION_HOURS = [
    (
        re.compile(
            rf"{_DIGIT_L}(\d+(?:\.\d+)?)\s*시간\s*(?:(\d{{1,2}})\s*분|(반))?(?:\s*(?:간|동안))?"
        ),
        "ko_h",
    ),
    (re.compile(rf"(?<![가-힣])({_KO_NUM})\s*시간\s*(반)?(?:\s*(?:동안))?"), "ko_word_h"),
    (re.compile(r"(?<![가-힣])반\s*시간"), "half"),
    (re.compile(r"\b(?:half\s+an?\s+hour|a\s+half\s+hour|half\s+hour)\b"), "half"),
    (re.compile(rf"\b({_EN_NUM})\s+and\s+a\s+half\s+hours?\b"), "en_word_and_half"),
    (re.compile(rf"\b({_EN_NUM})\s+hours?(\s+and\s+a\s+half)?\b"), "en_word_h"),
    (
        re.compile(
            rf"{_DIGIT_L}(\d+(?:\.\d+)?)\s*(?:hours?|hrs?|h)\b"
            r"(?:\s*(?:and\s+)?(\d{1,2})\s*(?:minutes?|mins?|m)\b)?"
        ),
        "en_h",
    ),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})h(\d{{2}}){_DIGIT_R}"), "en_hm"),
]
DURATION_MINUTES = re.compile(
    rf"{_DIGIT_L}(\d{{1,3}})\s*(?:분(?:\s*(?:간|동안))?|minutes?|mins?|m\b)"
)

DATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"{_DIGIT_L}(\d{{4}})[-./](\d{{1,2}})[-./](\d{{1,2}}){_DIGIT_R}\.?"), "ymd"),
    (
        re.compile(
            rf"(?:{_DIGIT_L}(\d{{4}})\s*년\s*)?{_DIGIT_L}(\d{{1,2}})\s*월\s*(\d{{1,2}})\s*일"
        ),
        "ko_ymd",
    ),
    (re.compile(rf"\b({_MON})\.?\s+(\d{{1,2}}){_ORD}\b(?![:.]\d){_YEAR}"), "en_md"),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MON})\b\.?{_YEAR}"), "en_dm"),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})/(\d{{1,2}}){_DIGIT_R}(?!/)"), "md"),
    (
        re.compile(
            r"(다다음\s*주|다음\s*주|담주|이번\s*주|금주|차주)\s*"
            rf"(?:의\s*)?([{KO_WEEKDAYS}])요일"
        ),
        "ko_week_wd",
    ),
    (re.compile(rf"(다음|이번|오는)\s*([{KO_WEEKDAYS}])요일"), "ko_rel_wd"),
    (re.compile(rf"\b(this|next|coming)\s+({_WD})\b"), "en_rel_wd"),
    (re.compile(rf"\b({_WD})\s+(?:of\s+)?(this|next)\s+week\b"), "en_wd_week"),
    (re.compile(rf"\b(this|next)\s+week(?:\s+on)?\s+({_WD})\b"), "en_week_wd"),
    (re.compile(rf"([{KO_WEEKDAYS}])요일"), "ko_wd"),
    (re.compile(rf"\b(?:on\s+)?({_WD})\b"), "en_wd"),
    (re.compile(r"내일\s*모레|모레"), "rel2"),
    (re.compile(r"글피"), "rel3"),
    (re.compile(r"내일"), "rel1"),
    (re.compile(r"오늘"), "rel0"),
    (re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b"), "rel2"),
    (re.compile(r"\btomorrow\b"), "rel1"),
    (re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b"), "rel0"),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})\s*일\s*(?:후|뒤)"), "ko_in_days"),
    (re.compile(r"\bin\s+(\d{1,2})\s+days?\b"), "en_in_days"),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})\s*일(?![가-힣])"), "ko_dom"),
]

_KO_MERIDIEM = r"(오전|오후|아침|저녁|밤|낮|새벽)"
TIMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"정오|\bnoon\b|\bmidday\b"), "noon"),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})(?:[:.](\d{{2}}))?\s*([ap])\.?\s?m\b\.?"), "en_ampm"),
    (re.compile(rf"{_KO_MERIDIEM}?\s*{_DIGIT_L}(\d{{1,2}}):(\d{{2}}){_DIGIT_R}"), "ko_colon"),
    (
        re.compile(
            rf"{_KO_MERIDIEM}?\s*(?:{_DIGIT_L}(\d{{1,2}})|(?<![가-힣])({_KO_NUM}))\s*시(?!간)"
            r"(?:\s*(\d{1,2})\s*분|\s*(반))?"
        ),
        "ko",
    ),
    (re.compile(rf"{_DIGIT_L}(\d{{1,2}})\s*o'?clock\b"), "en_oclock"),
    (
        re.compile(rf"\bat\s+(\d{{1,2}}){_DIGIT_R}(?!\s*(?:hours?|hrs?|h\b|minutes?|mins?|m\b|:))"),
        "en_at",
    ),
]

ZONE_PARTNER = re.compile(
    r"현지\s*시간(?:으로|기준)?|현지\s*기준|상대\s*(?:쪽\s*)?시간(?:으로|기준)?"
    r"|\b(?:in\s+)?(?:their|partner'?s?|the\s+partner'?s?)\s+(?:local\s+)?time(?:\s*zone)?\b"
    r"|\blocal\s+time\b"
)
ZONE_HOME = re.compile(
    r"(?:우리|한국|서울)\s*시간(?:으로|기준)?|\b(?:our|korean?|seoul)\s+time\b|\bkst\b"
)
AFTER_CITY_TIME = re.compile(
    r"\s*(?:의\s*)?(?:현지\s*)?(?:시간\s*(?:으로|기준)?|기준|(?:local\s+)?time\b)"
)
TITLES = [
    re.compile(r"[\"“”«»「『]([^\"“”«»」』]{1,200})[\"“”«»」』]"),
    re.compile(r"(?i)\b(?:title|subject|topic)\s*[:：]\s*(.+?)\s*$"),
    re.compile(r"(?:제목|주제)\s*[:：은는]?\s*(.+?)\s*$"),
    # "about ..." is left out on purpose: it swallows the date and time that often follow it
]

# how many weeks ahead a Korean week word points ("다음 주" is next week), spaces removed
KO_WEEKS_AHEAD = {"이번주": 0, "금주": 0, "다음주": 1, "담주": 1, "차주": 1, "다다음주": 2}

# meridiem words the time patterns capture (the English ones as their first letter, a / p)
MORNING = ("오전", "아침", "새벽", "a")
AFTERNOON = ("오후", "저녁", "밤", "p")
MIDDAY = ("낮",)  # "낮 11시" is 11:00, "낮 3시" is 15:00

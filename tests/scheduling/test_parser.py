"""The meeting-request parser on Korean and English phrasings, and the LLM path against a fake."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.scheduling.parser import (
    LLMMeetingParser,
    MeetingParseError,
    RuleBasedParser,
    parse_meeting_request,
)
from tests.conftest import chat_completion
from tests.scheduling import BERLIN, LA, SAIGON, directory, seoul

D = directory()
NOW = seoul(2026, 3, 18, 10, 0)  # Wednesday 18 March 2026, 10:00 in Seoul
PARSER = RuleBasedParser(D, lambda: NOW)

CASES = [
    # text, partner, start (Seoul), minutes, zone the time was given in
    (
        "다음 주 화요일 오후 4시에 뒤셀도르프와 1시간 화상회의",
        "Düsseldorf",
        "2026-03-24 16:00",
        60,
        "home",
    ),
    (
        "meeting with Bien Hoa next Wednesday 10am their time for 45 minutes",
        "Bien Hoa",
        "2026-03-25 12:00",
        45,
        "partner",
    ),
    ("내일 오전 10시 30분 리버턴 30분 회의", "Riverton", "2026-03-19 10:30", 30, "home"),
    ("12월 3일 15:00 Düsseldorf 90 minutes", "Düsseldorf", "2026-12-03 15:00", 90, "home"),
    ("Friday 9:30 with Riverton for an hour", "Riverton", "2026-03-20 09:30", 60, "home"),
    ("모레 오후 3시 비엔호아 시간으로 2시간", "Bien Hoa", "2026-03-20 17:00", 120, "partner"),
    ("오늘 오후 5시 뒤셀도르프 한 시간", "Düsseldorf", "2026-03-18 17:00", 60, "home"),
    ("글피 오전 9시 비엔호아와 1시간 30분", "Bien Hoa", "2026-03-21 09:00", 90, "home"),
    (
        "이번 주 금요일 오후 2시 반 리버턴 현지 시간 45분",
        "Riverton",
        "2026-03-21 06:30",
        45,
        "partner",
    ),
    ("다음주 월요일 정오 Duesseldorf 1.5시간", "Düsseldorf", "2026-03-23 12:00", 90, "home"),
    (
        "tomorrow at 3:30 pm with Düsseldorf for 1.5 hours",
        "Düsseldorf",
        "2026-03-19 15:30",
        90,
        "home",
    ),
    ("today 4pm Dusseldorf half an hour", "Düsseldorf", "2026-03-18 16:00", 30, "home"),
    ("this Thursday 10:00 Bien Hoa 45 min", "Bien Hoa", "2026-03-19 10:00", 45, "home"),
    ("next Monday noon with Riverton, 2 hours", "Riverton", "2026-03-23 12:00", 120, "home"),
    ("2026-12-03 16:00 뒤셀도르프 60분", "Düsseldorf", "2026-12-03 16:00", 60, "home"),
    ("12/3 오후 4시 뒤셀도르프 1시간", "Düsseldorf", "2026-12-03 16:00", 60, "home"),
    ("Dec 3 4pm Düsseldorf 1 hour", "Düsseldorf", "2026-12-03 16:00", 60, "home"),
    (
        "3 December 16:00 with Duesseldorf for 60 minutes",
        "Düsseldorf",
        "2026-12-03 16:00",
        60,
        "home",
    ),
    (
        "다음 주 수요일 아침 9시 리버턴 시간으로 1시간",
        "Riverton",
        "2026-03-26 01:00",
        60,
        "partner",
    ),
    ("내일모레 오후 4시 뒤셀도르프 1시간", "Düsseldorf", "2026-03-20 16:00", 60, "home"),
    (
        "in 3 days at 10am with Bien Hoa for 1 hour 30 minutes",
        "Bien Hoa",
        "2026-03-21 10:00",
        90,
        "home",
    ),
    (
        "the day after tomorrow 11 am Bien Hoa local time 2 hrs",
        "Bien Hoa",
        "2026-03-20 13:00",
        120,
        "partner",
    ),
    ("다음 주 목요일 저녁 6시 리버턴 두 시간", "Riverton", "2026-03-26 18:00", 120, "home"),
    (
        "on Wednesday at 4 pm with Düsseldorf for an hour and a half",
        "Düsseldorf",
        "2026-03-18 16:00",
        90,
        "home",
    ),
    ("금요일 오후 네 시 비엔호아 한 시간 반", "Bien Hoa", "2026-03-20 16:00", 90, "home"),
    ("2026년 12월 3일 오후 4시 뒤셀도르프 1시간", "Düsseldorf", "2026-12-03 16:00", 60, "home"),
    ("Tuesday next week 16:30 Dusseldorf 45 minutes", "Düsseldorf", "2026-03-24 16:30", 45, "home"),
    (
        "December 3rd, 2026 at 9:00 Bien Hoa time for 2h",
        "Bien Hoa",
        "2026-12-03 11:00",
        120,
        "partner",
    ),
    ("20일 오후 4시 뒤셀도르프 1시간", "Düsseldorf", "2026-03-20 16:00", 60, "home"),
    ("next Wednesday 10 a.m. Biên Hòa 90 min", "Bien Hoa", "2026-03-25 10:00", 90, "home"),
    ("이번주 목요일 15시 비엔호아 1시간반", "Bien Hoa", "2026-03-19 15:00", 90, "home"),
    (
        "Wednesday 9am Riverton 1h30",
        "Riverton",
        "2026-03-25 09:00",
        90,
        "home",
    ),  # today's 9:00 is past
    ("수요일 오후 3시 비엔호아 1시간", "Bien Hoa", "2026-03-18 15:00", 60, "home"),
    ("다음 주 화요일 4시 뒤셀도르프 반 시간", "Düsseldorf", "2026-03-24 16:00", 30, "home"),
    ("Thursday March 19 3pm Riverton 1 hour", "Riverton", "2026-03-19 15:00", 60, "home"),
    ("sept 3 14:00 Düsseldorf one hour", "Düsseldorf", "2026-09-03 14:00", 60, "home"),
    (
        "3월 2일 오후 5시 뒤셀도르프 1시간",
        "Düsseldorf",
        "2027-03-02 17:00",
        60,
        "home",
    ),  # passed: next year
    (
        "다음 주 화요일 뒤셀도르프 시간 오전 9시 1시간",
        "Düsseldorf",
        "2026-03-24 17:00",
        60,
        "partner",
    ),
    (
        "next Tuesday 9am Düsseldorf time, 60 minutes",
        "Düsseldorf",
        "2026-03-24 17:00",
        60,
        "partner",
    ),
    (
        "next Tuesday 4pm Seoul time with Düsseldorf for 60 minutes",
        "Düsseldorf",
        "2026-03-24 16:00",
        60,
        "home",
    ),
    ("ＤＵＳＳＥＬＤＯＲＦ　tomorrow ４pm　３０min", "Düsseldorf", "2026-03-19 16:00", 30, "home"),
]


@pytest.mark.parametrize(
    ("text", "partner", "start", "minutes", "zone"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_parser_reads_partner_start_duration_and_zone(
    text: str, partner: str, start: str, minutes: int, zone: str
) -> None:
    request = PARSER.parse(text)
    assert request.partner.name == partner
    assert request.start.tzinfo is not None
    assert request.start.astimezone(D.home.tz).strftime("%Y-%m-%d %H:%M") == start
    assert request.duration_minutes == minutes
    assert request.tz_of_time == zone


def test_there_are_at_least_thirty_phrasings() -> None:
    korean = [c for c in CASES if any("가" <= ch <= "힣" for ch in c[0])]
    assert len(CASES) >= 30 and len(korean) >= 15 and len(CASES) - len(korean) >= 15


def test_partner_time_is_read_in_the_partners_zone_across_dst() -> None:
    r = PARSER.parse("next Wednesday 10am their time with Riverton for 30 minutes")
    assert r.start.astimezone(LA).strftime("%a %H:%M %Z") == "Wed 10:00 PDT"
    r = PARSER.parse("다음 주 화요일 오전 9시 뒤셀도르프 현지 시간 1시간")
    assert r.start.astimezone(BERLIN).strftime("%H:%M %Z") == "09:00 CET"
    r = PARSER.parse(
        "다음 주 화요일 오전 9시 뒤셀도르프 현지 시간 1시간".replace("다음 주", "다다음 주")
    )
    assert r.start.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") == "03-31 09:00 CEST"
    assert r.start.astimezone(D.home.tz).strftime("%H:%M") == "16:00"


def test_title_in_quotes_or_after_a_label_is_kept() -> None:
    r = PARSER.parse('12월 3일 오후 4시 뒤셀도르프와 90분 "예산 협의 2027"')
    assert r.title == "예산 협의 2027" and r.duration_minutes == 90
    r = PARSER.parse("Riverton, next Tuesday 9am their time, 30 mins, title: Youth exchange")
    assert r.title == "Youth exchange" and r.tz_of_time == "partner"
    assert r.start.astimezone(LA).strftime("%a %H:%M") == "Tue 09:00"
    assert PARSER.parse("내일 오후 4시 뒤셀도르프 1시간").title is None


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("다음 주 화요일 오후 4시 뒤셀도르프", ["duration"]),
        ("meeting with Riverton next week", ["date", "time", "duration"]),
        ("내일 오후 3시 1시간 회의", ["partner"]),
        ("with Paris tomorrow 3pm for 1 hour", ["partner"]),
        ("뒤셀도르프와 1시간 회의", ["date", "time"]),
    ],
)
def test_missing_fields_are_named(text: str, missing: list[str]) -> None:
    with pytest.raises(MeetingParseError) as err:
        PARSER.parse(text)
    assert err.value.missing == missing
    assert "could not read the " + ", ".join(missing) in str(err.value)


def test_partial_fields_are_kept_for_a_follow_up_question() -> None:
    with pytest.raises(MeetingParseError) as err:
        PARSER.parse("다음 주 화요일 오후 4시 뒤셀도르프")
    partial = err.value.partial
    assert partial.partner is not None and partial.partner.name == "Düsseldorf"
    assert partial.day is not None and partial.day.isoformat() == "2026-03-24"
    assert partial.at is not None and partial.at.hour == 16


def test_default_duration_fills_in_when_none_was_said() -> None:
    r = PARSER.parse("다음 주 화요일 오후 4시 뒤셀도르프", default_duration=60)
    assert r.duration_minutes == 60


def test_parse_meeting_request_uses_the_given_now() -> None:
    r = parse_meeting_request("tomorrow 4pm Düsseldorf 1 hour", D, seoul(2026, 12, 31, 9))
    assert r.start.strftime("%Y-%m-%d %H:%M") == "2027-01-01 16:00"


# --- the LLM path, against an OpenAI-compatible fake at the HTTP seam ---------------------------


def _model(handler):  # type: ignore[no-untyped-def]
    from bot.answering.llm import build_chat_model

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return build_chat_model(
        "http://llm.test/v1", "sk-test", "fake", timeout=2, max_retries=0, http_client=client
    )


def test_llm_parser_validates_structured_output_into_a_request() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        answer = {
            "partner": "Bien Hoa",
            "date": "2026-03-25",
            "time": "10:00",
            "duration_minutes": 45,
            "title": None,
            "tz_of_time": "partner",
        }
        return httpx.Response(200, json=chat_completion(json.dumps(answer)))

    parser = LLMMeetingParser(_model(handler), D, lambda: NOW)
    r = parser.parse(
        "Bien Hoa next Wednesday, ten in the morning over there, three quarters of an hour"
    )
    assert r.partner.name == "Bien Hoa" and r.duration_minutes == 45 and r.tz_of_time == "partner"
    assert r.start.astimezone(SAIGON).strftime("%Y-%m-%d %H:%M") == "2026-03-25 10:00"
    body = seen[0]
    assert "response_format" in body or "tools" in body  # structured output was requested
    prompt = json.dumps(body["messages"], ensure_ascii=False)
    assert "2026-03-18" in prompt and "Düsseldorf" in prompt


def test_llm_parser_rejects_invalid_output_and_falls_back_to_the_rules() -> None:
    bad = {"partner": "Bien Hoa", "date": "next wednesday", "time": "10am", "duration_minutes": 45}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=chat_completion(json.dumps(bad)))

    with pytest.raises(MeetingParseError, match="invalid model output"):
        LLMMeetingParser(_model(handler), D, lambda: NOW).parse("whatever")
    fallback = LLMMeetingParser(_model(handler), D, lambda: NOW, fallback=PARSER)
    r = fallback.parse("meeting with Bien Hoa next Wednesday 10am their time for 45 minutes")
    assert r.start.astimezone(SAIGON).strftime("%m-%d %H:%M") == "03-25 10:00"


def test_llm_parser_reports_what_the_model_left_out() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=chat_completion(json.dumps({"partner": "뒤셀도르프", "date": None}))
        )

    with pytest.raises(MeetingParseError) as err:
        LLMMeetingParser(_model(handler), D, lambda: NOW).parse("뒤셀도르프랑 회의")
    assert err.value.missing == ["date", "time", "duration"]
    assert err.value.partial.partner is not None and err.value.partial.partner.name == "Düsseldorf"


def test_llm_parser_falls_back_when_the_endpoint_fails() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "down"}})

    parser = LLMMeetingParser(_model(handler), D, lambda: NOW, fallback=PARSER)
    assert parser.parse("내일 오후 4시 뒤셀도르프 1시간").start == seoul(2026, 3, 19, 16)

"""Slot rules across time zones: working-hour overlap, DST switches, holidays, bookings."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import pytest

from bot.scheduling.slots import (
    Busy,
    Slot,
    check,
    find_slots,
    format_local,
    format_slot,
    nearest,
)
from tests.scheduling import BERLIN, LA, SAIGON, directory, seoul

D = directory()
HOME = D.home
DUS, BIEN_HOA, RIVERTON, SPREEBURG = (
    D.get(n) for n in ("Düsseldorf", "Bien Hoa", "Riverton", "Spreeburg")
)
HOUR = timedelta(hours=1)
EARLY = seoul(2025, 1, 1, 0, 0)  # "now" well before every date below


def starts_by_day(slots: list[Slot]) -> dict[date, list[str]]:
    """Group slot starts (home time) by home date."""
    out: dict[date, list[str]] = defaultdict(list)
    for s in slots:
        local = s.start.astimezone(HOME.tz)
        out[local.date()].append(f"{local:%H:%M}")
    return dict(out)


def test_every_slot_lies_inside_both_working_days() -> None:
    for partner in (DUS, BIEN_HOA, RIVERTON):
        for slot in find_slots(HOME, partner, date(2026, 1, 5), 60, HOUR, now=EARLY):
            for city in (HOME, partner):
                start, end = slot.local(city)
                assert start.date() == end.date() and start.weekday() < 5
                assert (
                    city.working_hours.start <= start.time()
                    and end.time() <= city.working_hours.end
                )
            assert slot.start.minute in (0, 30) and slot.duration == HOUR


def test_europe_overlap_is_one_hour_in_winter_and_two_in_summer() -> None:
    winter = starts_by_day(find_slots(HOME, DUS, date(2026, 1, 12), 5, HOUR, now=EARLY))
    assert winter == {date(2026, 1, d): ["17:00"] for d in range(12, 17)}
    summer = starts_by_day(find_slots(HOME, DUS, date(2026, 7, 6), 5, HOUR, now=EARLY))
    assert summer == {date(2026, 7, d): ["16:00", "16:30", "17:00"] for d in range(6, 11)}


def test_european_spring_switch_week_moves_the_overlap_an_hour_earlier() -> None:
    # CEST begins Sunday 29 March 2026; Friday 3 April is Good Friday (Karfreitag) in Germany
    found = starts_by_day(find_slots(HOME, DUS, date(2026, 3, 23), 12, HOUR, now=EARLY))
    for d in range(23, 28):
        assert found[date(2026, 3, d)] == ["17:00"]
    for d in (date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 2)):
        assert found[d] == ["16:00", "16:30", "17:00"]
    assert date(2026, 4, 3) not in found


def test_european_autumn_switch_week_shrinks_the_overlap_again() -> None:
    # CET returns Sunday 25 October 2026
    found = starts_by_day(find_slots(HOME, DUS, date(2026, 10, 19), 12, HOUR, now=EARLY))
    for d in range(19, 24):
        assert found[date(2026, 10, d)] == ["16:00", "16:30", "17:00"]
    for d in range(26, 31):
        assert found[date(2026, 10, d)] == ["17:00"]


def test_south_east_asia_overlap_covers_most_of_the_day() -> None:
    found = starts_by_day(find_slots(HOME, BIEN_HOA, date(2026, 3, 23), 5, HOUR, now=EARLY))
    expected = [f"{h:02d}:{m:02d}" for h in range(9, 18) for m in (0, 30)][1:-1]  # 09:30 … 17:00
    assert found == {date(2026, 3, d): expected for d in range(23, 28)}
    first = find_slots(HOME, BIEN_HOA, date(2026, 3, 23), 1, HOUR, now=EARLY)[0]
    assert first.start.astimezone(SAIGON).time() == time(7, 30)


def test_american_spring_switch_closes_the_overlap_with_riverton() -> None:
    # PDT begins Sunday 8 March 2026: 09:00 KST was 16:00 PST, becomes 17:00 PDT (closing time)
    before = starts_by_day(find_slots(HOME, RIVERTON, date(2026, 3, 2), 5, HOUR, now=EARLY))
    # Monday 09:00 KST is Sunday in Oregon
    assert before == {date(2026, 3, d): ["09:00"] for d in (3, 4, 5, 6)}
    assert find_slots(HOME, RIVERTON, date(2026, 3, 9), 5, HOUR, now=EARLY) == []
    assert find_slots(HOME, RIVERTON, date(2026, 3, 9), 5, timedelta(minutes=30), now=EARLY) == []


def test_american_autumn_switch_reopens_the_overlap_with_riverton() -> None:
    # PST returns Sunday 1 November 2026
    assert find_slots(HOME, RIVERTON, date(2026, 10, 26), 5, HOUR, now=EARLY) == []
    after = find_slots(HOME, RIVERTON, date(2026, 11, 2), 5, timedelta(minutes=30), now=EARLY)
    assert starts_by_day(after) == {date(2026, 11, d): ["09:00", "09:30"] for d in (3, 4, 5, 6)}
    assert after[0].start.astimezone(LA).strftime("%a %H:%M %Z") == "Mon 16:00 PST"


def test_regional_holiday_blocks_only_the_state_that_keeps_it() -> None:
    # Fronleichnam (Corpus Christi), Thursday 4 June 2026: a holiday in NW, a working day in Berlin
    day = date(2026, 6, 4)
    assert day not in starts_by_day(find_slots(HOME, DUS, day, 1, HOUR, now=EARLY))
    assert starts_by_day(find_slots(HOME, SPREEBURG, day, 1, HOUR, now=EARLY))[day] == [
        "16:00",
        "16:30",
        "17:00",
    ]
    reasons = [v.reason for v in check(seoul(2026, 6, 4, 16), HOUR, HOME, DUS, now=EARLY)]
    assert reasons == ['holiday "Fronleichnam" in DE-NW (2026-06-04)']


def test_home_holiday_chuseok_blocks_every_partner() -> None:
    # Chuseok 2026: 24–26 September (Thursday–Saturday)
    found = starts_by_day(find_slots(HOME, BIEN_HOA, date(2026, 9, 21), 5, HOUR, now=EARLY))
    assert set(found) == {date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 23)}
    violations = check(seoul(2026, 9, 25, 10), HOUR, HOME, BIEN_HOA, now=EARLY)
    assert [(v.rule, v.city, v.detail["holiday"]) for v in violations] == [
        ("holiday", "Hanbit", "추석")
    ]


def test_partner_national_holiday_blocks_the_day() -> None:
    # Quốc khánh, 1–2 September 2026 (with 31 August as a bridge day)
    found = starts_by_day(find_slots(HOME, BIEN_HOA, date(2026, 8, 31), 5, HOUR, now=EARLY))
    assert set(found) == {date(2026, 9, 3), date(2026, 9, 4)}


def test_check_names_both_countries_holidays_on_the_same_day() -> None:
    # 3 October 2025 (Friday): 개천절 in Korea and Tag der Deutschen Einheit in Germany
    reasons = [v.reason for v in check(seoul(2025, 10, 3, 16), HOUR, HOME, DUS, now=EARLY)]
    assert reasons == [
        'holiday "개천절" in KR (2025-10-03)',
        'holiday "Tag der Deutschen Einheit" in DE-NW (2025-10-03)',
    ]


def test_check_explains_hours_weekend_past_and_overlap() -> None:
    now = seoul(2026, 3, 18, 12, 0)
    early = check(seoul(2026, 3, 24, 16), HOUR, HOME, DUS, now=now)
    assert [v.reason for v in early] == [
        "outside working hours in Düsseldorf (08:00–09:00 local; working hours 09:00–17:00)"
    ]
    monday = check(seoul(2026, 2, 23, 9), HOUR, HOME, RIVERTON, now=EARLY)
    assert [v.reason for v in monday] == ["weekend in Riverton (Sunday 2026-02-22)"]
    past = check(seoul(2026, 3, 17, 17), HOUR, HOME, DUS, now=now)
    assert [v.rule for v in past] == ["past"]
    busy = [Busy(seoul(2026, 3, 24, 17, 30), seoul(2026, 3, 24, 18), 3, "Budget")]
    overlap = check(seoul(2026, 3, 24, 17), HOUR, HOME, DUS, busy=busy, now=now)
    assert [v.reason for v in overlap] == [
        "overlaps meeting #3 “Budget” (2026-03-24 17:30–18:00 KST)"
    ]


def test_check_refuses_a_meeting_running_past_midnight_locally() -> None:
    violations = check(seoul(2026, 3, 24, 17, 30), HOUR, HOME, BIEN_HOA, now=EARLY)
    assert [v.rule for v in violations] == ["hours"]  # 18:30 KST is after Hanbit's closing time


def test_booked_meetings_block_overlapping_slots_but_not_adjacent_ones() -> None:
    busy = [Busy(seoul(2026, 3, 23, 11), seoul(2026, 3, 23, 12), 1)]
    found = starts_by_day(
        find_slots(HOME, BIEN_HOA, date(2026, 3, 23), 1, HOUR, busy=busy, now=EARLY)
    )
    day = found[date(2026, 3, 23)]
    assert "10:00" in day and "12:00" in day
    assert "10:30" not in day and "11:00" not in day and "11:30" not in day


def test_slots_in_the_past_are_not_proposed() -> None:
    now = seoul(2026, 3, 23, 11, 15)
    day = starts_by_day(find_slots(HOME, BIEN_HOA, date(2026, 3, 23), 1, HOUR, now=now))[
        date(2026, 3, 23)
    ]
    assert day[0] == "11:30"


def test_nearest_proposes_the_closest_valid_slots_in_time_order() -> None:
    wanted = seoul(2026, 3, 24, 16)  # an hour before Düsseldorf opens (CET)
    proposals = nearest(wanted, HOUR, HOME, DUS, now=EARLY, count=3)
    assert [f"{s.start:%m-%d %H:%M}" for s in proposals] == [
        "03-23 17:00",
        "03-24 17:00",
        "03-25 17:00",
    ]
    busy = [Busy(seoul(2026, 3, 24, 17), seoul(2026, 3, 24, 18), 1)]
    proposals = nearest(wanted, HOUR, HOME, DUS, busy=busy, now=seoul(2026, 3, 24, 9), count=2)
    assert [f"{s.start:%m-%d %H:%M}" for s in proposals] == ["03-25 17:00", "03-26 17:00"]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(datetime(2026, 3, 24, 16), HOUR, HOME, DUS, now=EARLY)


def test_format_slot_shows_both_local_times_in_each_citys_language() -> None:
    start = seoul(2026, 3, 31, 16)
    assert format_slot(start, start + HOUR, HOME, DUS) == "화 3/31 16:00 KST · Di 31.3. 09:00 MESZ"
    winter = seoul(2026, 3, 24, 17)
    assert format_slot(winter, winter + HOUR, HOME, DUS) == "화 3/24 17:00 KST · Di 24.3. 09:00 MEZ"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ko", "화 3/31 16:00–17:00 KST · 화 3/31 09:00–10:00 CEST"),
        ("en", "Tue Mar 31 16:00–17:00 KST · Tue Mar 31 09:00–10:00 CEST"),
        ("de", "Di 31.3. 16:00–17:00 KST · Di 31.3. 09:00–10:00 MESZ"),
        ("vi", "T3 31/3 16:00–17:00 KST · T3 31/3 09:00–10:00 CEST"),
    ],
)
def test_format_slot_in_one_language_with_end(lang: str, expected: str) -> None:
    start = seoul(2026, 3, 31, 16)
    assert format_slot(start, start + HOUR, HOME, DUS, lang, with_end=True) == expected


def test_format_local_shows_numeric_zones_readably_and_a_date_change() -> None:
    start = seoul(2026, 3, 31, 9)
    assert format_local(start, None, SAIGON, "vi") == "T3 31/3 07:00 UTC+7"
    assert format_local(start, start + HOUR, LA, "en") == "Mon Mar 30 17:00–18:00 PDT"
    late = datetime(2026, 3, 31, 23, 30, tzinfo=BERLIN)
    assert format_local(late, late + HOUR, BERLIN, "de") == "Di 31.3. 23:30–00:30 (+1) MESZ"

"""The partner directory: loading, validation messages that name the entry, loose name matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.scheduling.directory import Directory, DirectoryError, UnknownPartner, WorkingHours
from tests.scheduling import DIRECTORY_YAML, directory, write_directory

ROOT = Path(__file__).resolve().parents[2]


def test_load_reads_home_and_partners(tmp_path: Path) -> None:
    d = Directory.load(write_directory(tmp_path / "partners.yaml"))
    assert d.home.name == "Hanbit" and d.home.timezone == "Asia/Seoul" and d.home.language == "ko"
    assert [c.name for c in d.partners] == ["Düsseldorf", "Bien Hoa", "Riverton", "Spreeburg"]
    dus = d.partners[0]
    assert dus.subdivision == "NW" and dus.language == "de"
    assert str(dus.working_hours) == "09:00–17:00"


@pytest.mark.parametrize(
    "query",
    [
        "Düsseldorf",
        "düsseldorf",
        "DÜSSELDORF",
        "Dusseldorf",
        "duesseldorf",
        "뒤셀도르프",
        " Düsseldorf ",
        "Du\u0308sseldorf",
    ],  # the last one is NFD (decomposed umlaut)
)
def test_find_matches_name_or_alias_ignoring_case_and_accents(query: str) -> None:
    city = directory().find(query)
    assert city is not None and city.name == "Düsseldorf"


@pytest.mark.parametrize("query", ["Bien Hoa", "bien-hoa", "BIÊN HÒA", "비엔호아"])
def test_find_matches_vietnamese_names_with_or_without_diacritics(query: str) -> None:
    city = directory().find(query)
    assert city is not None and city.name == "Bien Hoa"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("뒤셀도르프시", "Düsseldorf"),
        ("Stadt Düsseldorf", "Düsseldorf"),
        ("düsseldorf city", "Düsseldorf"),
        ("비엔호아시", "Bien Hoa"),
        ("thành phố Biên Hòa", "Bien Hoa"),
        ("City of Riverton", "Riverton"),
        ("리버턴 시", "Riverton"),
    ],
)
def test_resolve_reads_a_name_with_or_without_its_administrative_word(
    query: str, name: str
) -> None:
    city = directory().resolve(query)
    assert city is not None and city.name == name


def test_every_spelling_of_a_city_has_one_key_and_an_unknown_city_its_own() -> None:
    names = directory().names
    assert {names.key(s) for s in ("Düsseldorf", "뒤셀도르프시", "duesseldorf")} == {"dusseldorf"}
    assert names.key("안양시") == names.key("안양") == "안양"  # not in the directory
    assert names.key("") == names.key(None) == "" and names.resolve("시") is None
    assert names.known == ["Düsseldorf", "Bien Hoa", "Riverton", "Spreeburg"]


def test_find_returns_none_and_get_raises_for_an_unknown_city() -> None:
    d = directory()
    assert d.find("Paris") is None
    with pytest.raises(UnknownPartner, match="known: Düsseldorf, Bien Hoa, Riverton"):
        d.get("Paris")


def _broken(old: str, new: str) -> str:
    assert old in DIRECTORY_YAML
    return DIRECTORY_YAML.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "America/Los_Angeles",
            "America/Nowhere",
            "partners[2] (Riverton): unknown time zone 'America/Nowhere'",
        ),
        ("country: VN", "country: XX", "partners[1] (Bien Hoa): unknown country 'XX'"),
        (
            "subdivision: NW",
            "subdivision: ZZ",
            "partners[0] (Düsseldorf): unknown subdivision 'ZZ' of DE",
        ),
        (
            'working_hours: "07:30-16:30"',
            'working_hours: "7-16"',
            "partners[1] (Bien Hoa): malformed working hours '7-16'",
        ),
        (
            'working_hours: "08:00-17:00"',
            'working_hours: "17:00-08:00"',
            "partners[2] (Riverton): malformed working hours '17:00-08:00' (the end is not after",
        ),
        (
            'working_hours: "08:00-17:00"',
            'working_hours: "08:00-25:00"',
            "partners[2] (Riverton): malformed working hours '08:00-25:00' (no such time",
        ),
        ("timezone: Asia/Seoul", "timezone: Asia/Nowhere", "home (Hanbit): unknown time zone"),
        ("    timezone: Asia/Ho_Chi_Minh\n", "", "partners[1] (Bien Hoa): missing timezone"),
        (
            "aliases: [리버턴]",
            "aliases: [뒤셀도르프]",
            "partners[2] (Riverton): name '뒤셀도르프' is already used by Düsseldorf",
        ),
    ],
)
def test_a_bad_entry_stops_loading_with_a_message_naming_it(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = write_directory(tmp_path / "partners.yaml", _broken(old, new))
    with pytest.raises(DirectoryError) as err:
        Directory.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_a_missing_or_unparsable_file_is_a_directory_error(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="not found"):
        Directory.load(tmp_path / "nope.yaml")
    with pytest.raises(DirectoryError, match="cannot read"):
        Directory.load(write_directory(tmp_path / "bad.yaml", "home: [unclosed\n"))
    with pytest.raises(DirectoryError, match="`home` is missing"):
        Directory.load(write_directory(tmp_path / "empty.yaml", "partners: []\n"))


def test_working_hours_parse_accepts_an_en_dash() -> None:
    hours = WorkingHours.parse("08:30–17:15")
    assert (hours.start.hour, hours.start.minute, hours.end.hour, hours.end.minute) == (
        8,
        30,
        17,
        15,
    )


def test_holiday_names_are_in_the_country_language() -> None:
    from datetime import date

    d = directory()
    assert d.get("Düsseldorf").holiday(date(2026, 10, 3)) == "Tag der Deutschen Einheit"
    assert d.get("Düsseldorf").holiday(date(2026, 6, 4)) == "Fronleichnam"
    assert d.get("Spreeburg").holiday(date(2026, 6, 4)) is None  # Berlin has no Corpus Christi
    assert d.home.holiday(date(2026, 9, 25)) == "추석"


def test_the_sample_directory_loads() -> None:
    sample = ROOT / "knowledge" / "partners.yaml"
    if not sample.exists():
        pytest.skip("no sample directory yet")
    d = Directory.load(sample)
    assert d.find("Düsseldorf") is not None and d.find("Riverton") is not None

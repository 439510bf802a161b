"""The German word list: a capitalised noun in any of its forms is no name, a place is one."""

from __future__ import annotations

import gzip

import pytest

from bot.german import SHIPPED, SOURCE, is_common_noun


@pytest.mark.parametrize(
    "word",
    [
        "Netz",  # short, and in no suffix rule
        "Kontaktperson",
        "Gästen",  # an inflected form (dative plural of Gast)
        "Jugendlichen",  # an adjective used as a noun
        "Gastfamilien",  # a compound the list does not hold: Gast + Familien
        "Protokollhandbuch",  # Protokoll + Handbuch
        "Partnerstadt",
        "Azubi-Brücke",  # a hyphenated compound: its last part
        "Hospitation",  # not in the list, shaped as only nouns are (-tion)
    ],
)
def test_a_german_common_noun_in_any_form_is_one(word: str) -> None:
    assert is_common_noun(word)


@pytest.mark.parametrize(
    "word",
    [
        "Leipzig",
        "Düsseldorf",  # not Düssel + Dorf
        "Rosenheim",  # a place the list knows, though Rosen + Heim are nouns
        "Paris",  # also a noun in Wiktionary, but asked about it is a city
        "China",
        "Riverton",  # no German head of four letters ("Ton" is too short to count)
        "Tsurugaoka",
        "Bien Hoa",  # two words: a name
        "",
    ],
)
def test_a_place_or_an_unknown_word_is_no_common_noun(word: str) -> None:
    assert not is_common_noun(word)


def test_the_shipped_list_names_its_source_and_licence() -> None:
    with gzip.open(SHIPPED, "rt", encoding="utf-8") as f:
        assert f.readline().strip() == f"# {SOURCE}"
    assert "CC BY-SA 4.0" in SOURCE and "Wiktionary" in SOURCE

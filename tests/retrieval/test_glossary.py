"""The glossary of city names from the partner directory: expansion across scripts, named cities."""

from __future__ import annotations

from pathlib import Path

from bot.nlp import Analyzer
from bot.retrieval.glossary import Glossary
from tests.scheduling import write_directory


def test_a_korean_name_expands_to_its_latin_spellings(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    expanded = glossary.expand(analyzer.terms("뒤셀도르프 협정"))
    assert "düsseldorf" in expanded or "dusseldorf" in expanded
    assert expanded[:2] == analyzer.terms("뒤셀도르프 협정")


def test_partner_cities_are_recognised_in_any_language_and_the_home_city_is_not_one(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    assert glossary.cities(analyzer.terms("Who signed the Bien Hoa agreement?")) == {"bien hoa"}
    assert glossary.cities(analyzer.terms("비엔호아 협정은 언제 체결됐나요?")) == {"bien hoa"}
    # the key CityNames gives Düsseldorf, however it is spelt
    assert glossary.cities(analyzer.terms("Wie hoch ist der Fonds mit Düsseldorf?")) == {
        "dusseldorf"
    }
    assert glossary.cities(analyzer.terms("What is Hanbit's budget?")) == set()


def test_a_missing_directory_gives_an_empty_glossary(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(tmp_path / "none.yaml", analyzer)
    assert glossary.expand(["x"]) == ["x"] and glossary.cities(["x"]) == set()


def test_names_are_code_switched_into_the_other_script(tmp_path: Path, analyzer: Analyzer) -> None:
    glossary = Glossary.from_directory(write_directory(tmp_path / "p.yaml"), analyzer)
    assert (
        glossary.code_switch("비엔호아시와 한빛의 협정은?", hangul=False)
        == "Bien Hoa시와 Hanbit의 협정은?"
    )
    assert (
        glossary.code_switch("Who pays when DÜSSELDORF visits Biên Hòa?", hangul=True)
        == "Who pays when 뒤셀도르프 visits 비엔호아?"
    )
    # a Latin name is switched only as a whole word; text without a known name is unchanged
    assert glossary.code_switch("the Hanbitpass card", hangul=True) == "the Hanbitpass card"
    assert glossary.code_switch("파리 협정", hangul=False) == "파리 협정"
    empty = Glossary.from_directory(tmp_path / "none.yaml", analyzer)
    assert empty.code_switch("비엔호아", hangul=False) == "비엔호아"

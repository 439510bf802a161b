"""German common nouns, to tell a capitalised noun from a name.

German capitalises every noun, so "Wie groß ist das Netz?" names nothing, while "Wie viele
Einwohner hat Leipzig?" names a city the documents may not know. The word list shipped beside this
module (german_nouns.tsv.gz, built by scripts/build_german_nouns.py from the German Wiktionary via
the german-nouns package, CC BY-SA 4.0) holds the inflected forms of about 100,000 nouns and of the
place names Wiktionary knows; a compound it does not list ("Protokollhandbuch", "Gastfamilien") is
a noun when it ends in a listed noun after a listed word, and so is a word shaped as only nouns are
("Hospitation", "Verwaltungsleistungen").
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

SHIPPED = Path(__file__).with_name("german_nouns.tsv.gz")
SOURCE = (
    "German nouns and place names from german-nouns 1.2.5 (Gregor Weichbrodt), compiled from "
    "the German Wiktionary; CC BY-SA 4.0"
)
# a compound's parts: its head at least this long ("Handbuch", not "Ton" of "Riverton"), the
# word before it at least three letters, joined as German joins them (Fugenlaute)
MIN_HEAD = 4
MIN_FIRST = 3
_JOINS = ("", "s", "es", "n", "en", "e", "er")
# the shape of a noun the list may not hold (Auszubildenden, Verwaltungsleistungen, Mitbringsel):
# a long word with a noun's ending, or any word with a suffix only nouns have; a city or a person
# is seldom spelt so (München, Bremen, Paris, Riverton keep counting as names)
_NOUN_SHAPE = re.compile(
    r"(?:ung|ungen|heit|keit|schaft|tion|tät|nis|ismus)$|"
    r"^\w{8,}(?:en|er|el|e|ling|tum|chen|lein|ik|ie|gesetz|amt|zeit|geld|kosten|plan|jahr)$"
)


@cache
def _words() -> tuple[frozenset[str], frozenset[str]]:
    nouns: set[str] = set()
    places: set[str] = set()
    with gzip.open(SHIPPED, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            word, _, kind = line.rstrip("\n").partition("\t")
            (places if kind == "place" else nouns).add(word)
    return frozenset(nouns), frozenset(places)


def warm_up() -> None:
    """Read the word list now (0.2 s, 36 MB), not on the first German question."""
    _words()


def is_common_noun(word: str) -> bool:
    """Tell whether a German word is a common noun (in any of its forms), not a place's name.

    A word shaped as only nouns are is one (_NOUN_SHAPE). Else a word the list does not know is
    one when its last part is a listed noun and what comes before is a listed word
    ("Protokoll|handbuch", "Gast|familien", "Partner|stadt"); a place the list knows stays a
    place ("Rosenheim").
    """
    if _NOUN_SHAPE.search(word):
        return True
    if not word or any(c.isspace() for c in word):
        return False  # "Bien Hoa" is a name of two words, whatever "Bien" alone is
    nouns, places = _words()
    w = word.lower()
    last = w.rsplit("-", 1)[-1]  # "Azubi-Brücke": its last part decides
    if w in places or last in places:
        return False
    if w in nouns or last in nouns:
        return True
    for cut in range(MIN_FIRST, len(last) - MIN_HEAD + 1):
        head, first = last[cut:], last[:cut]
        if head in nouns and any(
            first.endswith(j) and (first[: len(first) - len(j)] if j else first) in nouns
            for j in _JOINS
        ):
            return True
    return False

"""Rebuild bot/german_nouns.tsv.gz, the German common nouns and place names the answerer reads
to tell a capitalised German noun ("Netz", "Gästen") from a name ("Leipzig").

    .venv/bin/pip download german-nouns==1.2.5 --no-deps -d /tmp/german-nouns
    .venv/bin/python scripts/build_german_nouns.py /tmp/german-nouns/german_nouns-1.2.5-py3-none-any.whl

The source is the german-nouns package (Gregor Weichbrodt, https://github.com/gambolputty/german-nouns),
compiled from the German Wiktionary; its data, and so the file written here, is under CC BY-SA 4.0
(docs/german-nouns.md). The package itself is not a dependency: it requires lxml < 5, which the
loaders' lxml >= 5 excludes, and only its word list is needed.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile
from pathlib import Path

from bot.german import SHIPPED, SOURCE

# a row of these parts of speech is a name (its forms are places or persons, not common nouns)
NAMES = {"Toponym", "Eigenname", "Vorname", "Nachname", "Familienname", "Straßenname"}
PLACES = {"Toponym", "Straßenname"}
# rows that are no words of their own ("-heit", "Abk.", "Buchstabe")
SKIP = {"Buchstabe", "Abkürzung", "Gebundenes Lexem", "Wortverbindung", "Suffix", "Affix"}
FIRST_FORM = 7  # the columns after lemma, pos and the genus columns are the inflected forms


def main(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("german_nouns/nouns.csv").decode("utf-8")
    nouns: set[str] = set()
    places: set[str] = set()
    rows = csv.reader(io.StringIO(text))
    next(rows)  # the header
    for row in rows:
        pos = set(row[1].split(","))
        forms = {
            w.strip().lower()
            for w in (row[0], *row[FIRST_FORM:])
            if w.strip() and " " not in w.strip()
        }
        if pos & PLACES:
            places |= forms
        elif not pos & (NAMES | SKIP):
            nouns |= forms
    nouns -= places  # "Paris", "China": a place asked about stays a name
    lines = [f"# {SOURCE}"]
    lines += [f"{w}\tnoun" for w in sorted(nouns)] + [f"{w}\tplace" for w in sorted(places)]
    with gzip.open(SHIPPED, "wt", encoding="utf-8", compresslevel=9) as out:
        out.write("\n".join(lines) + "\n")
    print(f"wrote {SHIPPED}: {len(nouns)} noun forms, {len(places)} place forms")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

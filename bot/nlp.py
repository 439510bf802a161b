"""Language detection, sentence splitting and keyword terms for Korean, English, German, Vietnamese."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import cached_property, lru_cache
from typing import Any

from bot import german

LANGUAGES = ("ko", "en", "de", "vi")

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_HANJA = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_VI_CHARS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
_DE_CHARS = set("äöüß")
_DE_WORDS = {
    "der",
    "die",
    "das",
    "und",
    "ist",
    "wer",
    "wie",
    "was",
    "welche",
    "welcher",
    "wann",
    "mit",
    "für",
    "nicht",
    "ein",
    "eine",
    "den",
    "dem",
    "des",
    "zu",
    "von",
    "auf",
    "im",
    "sind",
    "wird",
    "werden",
    "kosten",
    "stadt",
    "trägt",
    "vereinbarung",
    "partnerschaft",
    "gibt",
    "es",
    "bei",
    "viel",
    "viele",
    "lange",
    "beim",
    "vom",
    "zum",
    "zur",
    "über",
    "nach",
    "aus",
    "um",
    "oder",
    "auch",
    "noch",
    "als",
    "wo",
    "wohin",
    "woher",
    "warum",
    "welches",
    "welchen",
    "welchem",
    "einen",
    "einem",
    "einer",
    "unser",
    "unsere",
    "unseren",
    "unserer",
    "wir",
    "ich",
    "sie",
    "ihr",
    "ihre",
    "hat",
    "haben",
    "muss",
    "müssen",
    "kann",
    "können",
    "darf",
    "dürfen",
    "soll",
    "sollen",
}
# German words that tell a question is German but carry meaning for keyword search ("gilt bis",
# "höchstens"): read by detect_language only, never dropped as stop words
_DE_HINTS = {
    "bis",
    "seit",
    "gilt",
    "höchstens",
    "mindestens",
    "jahr",
    "jahre",
}
_VI_WORDS = {"và", "của", "là", "có", "không", "những", "các", "được", "cho", "thành", "phố"}

# Terms that carry no meaning for keyword search.
_EN_STOP = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "in",
    "on",
    "for",
    "and",
    "or",
    "is",
    "are",
    "was",
    "were",
    "be",
    "by",
    "with",
    "at",
    "as",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "what",
    "which",
    "who",
    "whom",
    "how",
    "when",
    "where",
    "why",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "shall",
    "may",
    "our",
    "we",
    "us",
    "you",
    "your",
    "they",
    "their",
    "there",
    "from",
    "about",
    "much",
    "many",
    "any",
    "have",
    "has",
    "had",
    "i",
    "me",
    "my",
    "if",
    "than",
    "then",
    "so",
    "not",
    "no",
    "yes",
    "per",
    "into",
    "each",
    "under",
    "over",
    "also",
    "tell",
    "please",
}
_STOP = (
    _EN_STOP
    | _DE_WORDS
    | _VI_WORDS
    | {"er", "sie", "wir", "uns", "ich", "man", "oder", "zum", "zur", "am"}
)
# Kiwi tags kept as terms: nouns, verb/adjective stems, roots, numbers, foreign words, hanja.
_KEEP_TAGS = ("NNG", "NNP", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG")
_KO_STOP = {
    "하",
    "있",
    "되",
    "없",
    "것",
    "수",
    "등",
    "및",
    "그",
    "이",
    "저",
    "무엇",
    "어떻",
    "누구",
    "언제",
    "어디",
    "얼마",
    "무슨",
    "어느",
    "알려주",
}

_SENT_END = re.compile(
    r"(?<=[.!?。;])\s+(?=\(?[a-z0-9]{1,3}\)\s|[\"'(\[]?[A-Z0-9ÄÖÜĐ\u00C0-\u024F\u1E00-\u1EFF\uac00-\ud7a3])"
)


def has_hangul(text: str) -> bool:
    """Tell whether the text has any Hangul (syllables or jamo)."""
    return _HANGUL.search(text) is not None


def normalize(text: str) -> str:
    """Return text in NFC with unified whitespace and no control characters."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text


_GLOSSED_HANJA = re.compile(
    r"([\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+)\s*\(([\uac00-\ud7a3][\uac00-\ud7a3\s·]*)\)"
)
_HANGUL_THEN_HANJA = re.compile(
    r"([\uac00-\ud7a3]+)\s*\(([\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+)\)"
)


def index_text(text: str) -> str:
    """Return the form of a text that models and keyword search read.

    Korean officialese writes Hanja with a Hangul gloss, "姉妹都市(자매도시)" or "자매도시(姉妹都市)";
    models and questions use the Hangul, so the gloss replaces the pair. Display keeps the original.
    """
    text = _GLOSSED_HANJA.sub(r"\2", text)
    return _HANGUL_THEN_HANJA.sub(r"\1", text)


def detect_language(text: str) -> str:
    """Guess which of ko, en, de, vi the text is in (Korean wins as soon as it is substantial)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    hangul = len(_HANGUL.findall(text))
    hanja = len(_HANJA.findall(text))
    if hangul and (hangul + hanja) / len(letters) >= 0.2:
        return "ko"
    lowered = text.lower()
    vi = sum(1 for ch in lowered if ch in _VI_CHARS)
    words = _LATIN_WORD.findall(lowered)
    if vi >= 2 or (vi and any(w in _VI_WORDS for w in words)):
        return "vi"
    de_score = sum(1 for ch in lowered if ch in _DE_CHARS) + 2 * sum(
        1 for w in words if w in _DE_WORDS or w in _DE_HINTS
    )
    en_score = 2 * sum(1 for w in words if w in _EN_STOP)
    if de_score > en_score:
        return "de"
    if hangul:
        return "ko"
    return "en"


class Analyzer:
    """Kiwi-backed text analysis; the model loads once, on first use, and is shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @cached_property
    def _kiwi(self) -> Any:
        from kiwipiepy import Kiwi

        kiwi = Kiwi()
        kiwi.split_into_sents("준비.")  # force the lazy model load now, not on the first question
        return kiwi

    def warm_up(self) -> None:
        """Load the Korean model and the German word list now rather than on the first request."""
        with self._lock:
            _ = self._kiwi
        german.warm_up()

    def split_sentences(self, text: str) -> list[str]:
        """Split text into sentences: Kiwi for Korean runs, punctuation rules elsewhere.

        A table row becomes one sentence of "header: value" pairs; a list item keeps its
        indented lines; dates ("2026. 5. 18.", "31. Dezember") and abbreviations ("z. B.",
        "TP.", "No.") do not end a sentence.
        """
        out: list[str] = []
        for para, whole in _blocks(text):
            if whole:  # a table row: one unit, whatever punctuation its cells have
                out.append(para)
                continue
            pieces = []
            # a statute's clauses "… 부담한다. ② …" (not an enumeration inside a sentence:
            # "우선순위는 ① 홍보 ② 포럼 ③ 초청 순으로 한다.")
            for part in re.split(r"(?<=[.!?])\s(?=[①-⑳])", " ".join(para.split())):
                if _HANGUL.search(part):
                    with self._lock:
                        pieces += [s.text for s in self._kiwi.split_into_sents(part)]
                elif part:
                    pieces.append(part)
            split = [s.strip() for piece in pieces for s in _SENT_END.split(piece) if s.strip()]
            out.extend(_rejoin(split))
        return out

    def terms(self, text: str, language: str | None = None, stem: bool = True) -> list[str]:
        """Return the keyword-search terms of a text: Korean morphemes, stemmed words, numbers.

        `language` picks the stemmer for Latin-script text (detected when not given); `stem=False`
        keeps whole words, for showing people.
        """
        text = index_text(normalize(text))
        terms: list[str] = []
        if _HANGUL.search(text) or _HANJA.search(text):
            with self._lock:
                tokens = self._kiwi.tokenize(text)
            for tok in tokens:
                tag = tok.tag.split("-")[0]
                if not tag.startswith(_KEEP_TAGS):
                    continue
                form = tok.form.lower()
                if tag == "SL":
                    terms.extend(_latin_terms(form, "en" if stem else ""))
                elif form not in _KO_STOP and (
                    len(form) > 1 or tag in ("NNG", "NNP", "SH", "SN", "XR")
                ):
                    terms.append(form)
        else:
            terms.extend(
                _latin_terms(text.lower(), (language or detect_language(text)) if stem else "")
            )
            terms.extend(re.findall(r"\d+(?:[.,]\d+)*", text))
        return terms

    def proper_nouns(self, text: str) -> list[str]:
        """Return the Korean proper nouns Kiwi finds (place and person names)."""
        if not _HANGUL.search(text):
            return []
        with self._lock:
            tokens = self._kiwi.tokenize(normalize(text))
        return [tok.form.lower() for tok in tokens if tok.tag == "NNP"]


# what a sentence does not end with: abbreviations of the four languages, an initial
_ABBREV = re.compile(
    r"(?:^|[\s(])(?:p|pp|no|nos|nr|art|abs|ziff|dr|prof|mr|mrs|ms|st|vs|etc|e\.g|i\.e|z\.\s?b|"
    r"u\.\s?a|d\.\s?h|bzw|ggf|inkl|zzgl|vgl|usw|ca|approx|tel|fax|fig|jan|feb|mar|apr|jun|jul|"
    r"aug|sep|sept|oct|okt|nov|dec|dez|inc|ltd|co|corp|dept|gov|min|max|tp|tt|ths|ts|pgs|gs|"
    r"ubnd|hđnd|[A-ZĐ])\.$",
    re.I,
)
_MONTHS = (
    "januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    "jänner|january|february|march|june|july|october|december|tháng"
)
# a number with a point that does not end a sentence: a Korean date goes on with a digit
# ("2026. 5. 18."), a German date or ordinal with a month, a lower-case word, or any word after
# a day or an ordinal in German ("am 3. Stock", "seit dem 14. März")
_DAY_DOT = re.compile(r"(?:^|[\s(])(\d{1,4})\.$")
_MARKER = re.compile(
    r"^(?:\d{1,2}|[가-하]|[a-zA-Z]|[ivxIVX]{1,4})[.)]$"
)  # "2." "가." a list's number
_GOES_ON_LOWER = re.compile(r"^[a-zäöüßđ\d(]")
# a Korean date (year, month and perhaps day, each with its point) goes on with the Korean words
# after it on its line ("2025. 12. 16. 시의회 의결", "2026. 5. 중"); a Korean sentence ends on a
# verb, not on a date. Not before a label ("장소: …"), which starts a line's next field.
_KO_DATE = re.compile(r"(?:^|[\s(])\d{4}\.\s?\d{1,2}\.(?:\s?\d{1,2}\.)?$")
_KO_MONTH_PART = re.compile(r"^(?:초|중|말|경|중순|하순|상순)(?![가-힣])")
_KO_GOES_ON = re.compile(r"^(?![^\s:]{2,}:)(?:[\uac00-\ud7a3]|[(~])")


def _rejoin(pieces: list[str]) -> list[str]:
    """Re-join pieces cut after an abbreviation or inside a date."""
    out: list[str] = []
    for piece in pieces:
        if out and _cut_too_early(out[-1], piece):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _cut_too_early(before: str, after: str) -> bool:
    if _ABBREV.search(before) or _MARKER.match(before):
        return True
    if _KO_DATE.search(before) and _KO_GOES_ON.match(after):
        return True
    if _KO_MONTH_PART.match(after) and re.search(r"(?:^|[\s,(])\d{1,2}\.$", before):
        return True  # "10. 중": a month's middle, start or end
    day = _DAY_DOT.search(before)
    if day is None:
        return False
    if after[:1].isdigit() or re.match(rf"(?:{_MONTHS})\b", after, re.I):
        return True  # 2026. 5. 18. / 31. Dezember 2027 / 14. tháng 3
    if len(day.group(1)) <= 2 and detect_language(before) == "de":
        return True  # a German ordinal: "im 3. Stock", "zum 1. Mal"
    return bool(_GOES_ON_LOWER.match(after))


# a table row as the loaders give it ("a | b | c", Markdown's "| a | b |"), a Markdown
# separator row, and a plain-text table's rule of dashes under its header
_ROW = re.compile(r"^\s*\|.*\|\s*$|\s\|\s")
_RULE_CELL = re.compile(r"^:?-{3,}:?$")
_DASH_RULE = re.compile(r"^\s*-{3,}(?:\s+-{3,})+\s*$")
# where a new paragraph starts: a list item (also Korean markers) or an article
_ITEM = re.compile(
    r"^(\s*)(?:[-*•·▪○●□■◦ㅇ※▶►]|\d{1,2}[.)]|\(\d{1,2}\)|[가-하][.)]|제\s*\d+\s*조)\s"
)

# a line that is a labelled field ("From: Song Ha-eun", "수신: 수신자 참조", "Für die Stadt
# Hanbit: Park Jeong-hoon"): like a list item, it starts a paragraph (a memo's header lines
# have no full stops), not a time ("16:00"), an address ("https://…") or a wrapped line that
# closes a bracket ("Kuhn): …")
LABELLED_LINE = re.compile(r"^\s*[^\W\d_](?:[^:：.!?()]|\([^()]*\)){0,30}[:：]\s+\S")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|") and line.endswith("|") and len(line) > 1:
        line = line[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def _pairs(header: list[str], row: list[str]) -> str:
    """Say a table row as "header: value" pairs (its cells alone when the header does not fit)."""
    if len(header) != len(row) or header == row:
        return "; ".join(c for c in row if c)
    return "; ".join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=True) if v)


ROWS_PER_UNIT = 3


def _plain_table(lines: list[str], i: int) -> tuple[list[str], int]:
    """Read a plain-text table whose rule of dashes is lines[i] and header lines[i - 1]; return
    its rows as sentences and the index of the line after it."""
    spans = [m.start() for m in re.finditer(r"-{3,}", lines[i])]

    def cut(row: str) -> list[str]:
        # columns are aligned as shown: a Hangul or Hanja character is two wide
        cells = [""] * len(spans)
        col = 0
        for ch in row:
            cells[sum(1 for start in spans[1:] if col >= start)] += ch
            col += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        return [c.strip() for c in cells]

    header, rows = cut(lines[i - 1]), []
    i += 1
    while i < len(lines) and lines[i].strip() and not _DASH_RULE.match(lines[i]):
        rows.append(_pairs(header, cut(lines[i])))
        i += 1
    return rows, i + 1  # past the closing rule, or the blank line


def _pipe_table(lines: list[str], i: int) -> tuple[list[str], int]:
    """Read the rows from lines[i] on ("a | b", blank lines between them allowed); return them
    as sentences and the index of the first line that is no row."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    while i < len(lines) and (_ROW.search(lines[i]) or not lines[i].strip()):
        if lines[i].strip():
            cells = _cells(lines[i])
            if not all(_RULE_CELL.match(c) for c in cells if c):
                rows.append(cells)
            elif rows and header is None:  # Markdown's separator: the row above is the header
                header = rows.pop()
        i += 1
    if header is None and len(rows) > 1:
        header = rows.pop(0)  # the loaders' rows: the first is the header
    return [_pairs(header or row, row) for row in rows], i


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Cut a section into paragraphs and table rows; True marks a row (one sentence)."""
    lines = text.splitlines()
    out: list[tuple[str, bool]] = []
    para: list[str] = []
    item_indent: int | None = None  # the indent of the list item the paragraph is

    def flush() -> None:
        nonlocal item_indent
        if para:
            out.append((" ".join(para), False))
        para.clear()
        item_indent = None

    i = 0
    while i < len(lines):
        line = lines[i]
        table: list[str] | None = None
        if _DASH_RULE.match(line) and para:  # a plain-text table: the header is the line above
            para.pop()
            flush()
            table, i = _plain_table(lines, i)
        elif _ROW.search(line):
            flush()
            table, i = _pipe_table(lines, i)
        if table is not None:
            # rows go in threes: a lone row is little more than a name, and would be found
            # before the passage that tells about what it names
            out.extend(
                (" / ".join(table[j : j + ROWS_PER_UNIT]), True)
                for j in range(0, len(table), ROWS_PER_UNIT)
            )
            continue
        if not line.strip():
            flush()
        else:
            item = _ITEM.match(line) or LABELLED_LINE.match(line)
            indent = len(line) - len(line.lstrip())
            if item and (item_indent is None or indent <= item_indent):
                flush()  # a new item (or the first): an indented one stays with its parent
                item_indent = indent
            para.append(line.strip() if not para or item is None else "/ " + line.strip())
        i += 1
    flush()
    return [(p, whole) for p, whole in out if p.strip()]


# the languages whose words are stemmed (Snowball's names); others keep their words whole
STEMMERS = {"en": "english", "de": "german"}


def _latin_terms(text: str, language: str) -> list[str]:
    """Return stemmed words: Snowball for English and German ('reviewed' meets 'review')."""
    words = [w for w in _LATIN_WORD.findall(text) if w not in _STOP and len(w) >= 2]
    name = STEMMERS.get(language, "")
    return [_stem(name, w) for w in words] if name else words


@lru_cache(maxsize=65536)
def _stem(name: str, word: str) -> str:
    """Stem one word (cached: the same words recur across a corpus)."""
    return str(_stemmer(name).stemWord(word))


# A Snowball stemmer keeps the word it is stemming in the object (its current string and
# cursors), so one stemmer used by two threads at once mixes their words up: each thread has its
# own, made on its first use of a language (answering runs in a bounded pool of worker threads).
_thread = threading.local()


def _stemmer(name: str) -> Any:
    """Return this thread's Snowball stemmer of a language, or None for no stemming."""
    if not name:
        return None
    stemmers: dict[str, Any] | None = getattr(_thread, "stemmers", None)
    if stemmers is None:
        stemmers = _thread.stemmers = {}
    stemmer = stemmers.get(name)
    if stemmer is None:
        import snowballstemmer

        stemmer = stemmers[name] = snowballstemmer.stemmer(name)
    return stemmer

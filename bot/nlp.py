"""Language detection, sentence splitting and keyword terms for Korean, English, German, Vietnamese."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import cached_property, lru_cache
from typing import Any

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
        1 for w in words if w in _DE_WORDS
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
        """Load the Korean model now rather than on the first request."""
        with self._lock:
            _ = self._kiwi

    def split_sentences(self, text: str) -> list[str]:
        """Split text into sentences: Kiwi for Korean runs, punctuation rules elsewhere."""
        out: list[str] = []
        for para in re.split(
            r"\n\s*\n|\n(?=\s*(?:[-*•·▪]|\d+[.)]|제\s*\d+\s*조)\s)|\s(?=[①-⑳]\s?)", text
        ):
            para = " ".join(para.split())
            if not para:
                continue
            if _HANGUL.search(para):
                with self._lock:
                    pieces = [s.text for s in self._kiwi.split_into_sents(para)]
            else:
                pieces = [para]
            for piece in pieces:
                out.extend(
                    _merge_abbreviations([s.strip() for s in _SENT_END.split(piece) if s.strip()])
                )
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


_ABBREV = re.compile(
    r"(?:^|\s)(?:p|pp|no|nr|art|abs|dr|mr|mrs|ms|st|vs|etc|e\.g|i\.e|z\.b|ca|approx|tel|fig)\.$",
    re.I,
)


def _merge_abbreviations(pieces: list[str]) -> list[str]:
    """Re-join pieces that were cut after an abbreviation such as 'p.' or 'Art.'."""
    out: list[str] = []
    for piece in pieces:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _latin_terms(text: str, language: str) -> list[str]:
    """Return stemmed words: Snowball for English and German ('reviewed' meets 'review')."""
    words = [w for w in _LATIN_WORD.findall(text) if w not in _STOP and len(w) >= 2]
    name = "german" if language == "de" else "english" if language == "en" else ""
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

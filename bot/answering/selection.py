"""What an offline answer quotes: the kind of fact a question asks for, and what is never quoted.

Across languages a question's words are nowhere in the passage, so the sentence to quote is
chosen by meaning (the sentence vectors stored at ingest) and by whether it carries the kind of
fact asked for: a number for "how many / 몇", a share for "what percentage / 비율", a date for
"when / 언제", an address for "which e-mail". The patterns below cover the four languages the
bot answers in; a question of none of these kinds is answered by meaning and words alone.
"""

from __future__ import annotations

import re

_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember|tháng"
)
# a small number written out: "two-week", "vierwöchig", "두 달", "hai tuần"
_NUMBER_WORD = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"ein|eine|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|zwölf|"
    r"한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|"
    r"một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười"
)
# (kind, what in a question asks for it, what in a sentence carries it); the first that asks wins
_KINDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(r"e-?mail|메일|mail-adresse|thư điện tử|địa chỉ thư", re.I),
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    ),
    (
        "phone",
        re.compile(
            r"phone|telephone|\bcall\b|extension|\bext\b|전화|내선|연락처|telefon|durchwahl|"
            r"điện thoại|số máy",
            re.I,
        ),
        re.compile(r"\+?\d[\d\s().-]{5,}\d|내선\s*\d+|\bext\.?\s*\d+", re.I),
    ),
    (
        "share",
        re.compile(
            r"percent|percentage|\bshare\b|\brate\b|비율|퍼센트|%|prozent|anteil|quote|"
            r"phần trăm|tỷ lệ|tỉ lệ",
            re.I,
        ),
        re.compile(r"\d\s?%|퍼센트|prozent|percent|phần trăm", re.I),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|what date|which date|what year|which year|since when|언제|며칠|몇\s?년|"
            r"연도|날짜|몇\s?월|\bwann\b|seit wann|welche[mn]? (?:datum|jahr|tag)|khi nào|"
            r"ngày nào|ngày mấy|năm nào|bao giờ|lúc nào|hồi nào",
            re.I,
        ),
        re.compile(
            rf"(?<!\d)(?:19|20)\d\d(?!\d)|\d{{1,2}}\s?월|\d{{1,2}}\s?일|\d{{1,2}}/\d{{1,2}}|"
            rf"\d{{1,2}}\.\s?\d{{1,2}}\.|\d{{1,2}}\.?\s(?:{_MONTH})|(?:{_MONTH})\s\d",
            re.I,
        ),
    ),
    (
        "duration",
        re.compile(
            r"how long|기간|얼마(?:나|동안)\s?(?:걸|머무|체류|하)|wie lange|dauer|bao lâu", re.I
        ),
        re.compile(
            rf"(?:\d+\s?|(?<!\w)(?:{_NUMBER_WORD})[\s-](?!일))(?:일|주|개월|달|년|시간|박|days?|"
            r"weeks?|months?|years?|hours?|nights?|tage?n?|wochen?|monate?n?|jahre?n?|stunden?|"
            r"ngày|tuần|tháng|năm|giờ)|"
            # "vierwöchige", "zweijährigen", "dreitägig": German writes short spans as one word
            rf"\b(?:{_NUMBER_WORD})(?:wöchig|monatig|jährig|tägig|stündig)",
            re.I,
        ),
    ),
    (
        "amount",
        re.compile(
            r"how much|what (?:does|did) .{0,30}cost|\bcost\b|price|budget|\bfee\b|allowance|"
            r"stipend|얼마|금액|비용|예산|wie viel(?!e)|wie hoch|kost(?:en|et|ete)|betrag|bao nhiêu tiền|"
            r"chi phí|kinh phí|\bgiá\b",
            re.I,
        ),
        re.compile(
            # a magnitude between the figure and its currency: "380 triệu won", "2 Mio. Euro"
            r"\d[\d,.]*\s?(?:만|억|천|triệu|tỷ|nghìn|ngàn|thousand|million|billion|tausend|"
            r"mio\.|millionen|mrd\.|milliarden)?\s?(?:원|달러|유로|엔|투그릭|won|krw|usd|eur|euro|dollars?|"
            r"yen|đồng|vnd)|(?:us\$|\$|€|¥|₩|usd|eur|krw)\s?\d",
            re.I,
        ),
    ),
    (
        "count",
        re.compile(r"how many|number of|몇|wie viele|anzahl|bao nhiêu|mấy", re.I),
        # a number that is not a year on its own ("2045년" says when, not how many)
        re.compile(
            r"(?<![\d.,])(?!(?:19|20)\d\d(?![\d,.]))\d|"
            r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|twenty)\b",
            re.I,
        ),
    ),
)


def asked_kind(question: str) -> str | None:
    """Return the kind of fact a question asks for, or None when it asks for none of them."""
    for kind, asks, _carries in _KINDS:
        if asks.search(question):
            return kind
    return None


_PATTERNS = {name: carried for name, _asks, carried in _KINDS}
# what a count is not: the digits of an address, a telephone number or a date ("how many took
# part" is not answered by "문의: 044-300-1234" or "2026. 5. 18.")
_NOT_COUNTS = tuple(_PATTERNS[name] for name in ("email", "phone", "date"))


def carries(kind: str | None, sentence: str) -> bool:
    """Tell whether a sentence holds a fact of the kind (False for no kind)."""
    if kind is None or kind not in _PATTERNS:
        return False
    if kind == "count":
        for other in _NOT_COUNTS:
            sentence = other.sub(" ", sentence)
    return bool(_PATTERNS[kind].search(sentence))


# a sentence that speaks to an assistant instead of to people: documents are untrusted text,
# and an answer never quotes what a document tells the bot to do
_INSTRUCTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?)|"
    r"(?:system|developer) (?:note|prompt|message|instruction)|"
    r"(?:note|message|instructions?) (?:for|to) (?:any |the )?(?:ai|assistant|chatbot|bot|llm|model)|"
    r"\byou are now\b|jailbreak|"
    r"when (?:anyone|someone|a user|users|people) asks?\b.{0,80}\b(?:reveal|disclose|tell|say|answer)|"
    r"이전\s?(?:의\s)?(?:지시|명령|지침|프롬프트).{0,10}무시|(?:ai|인공지능|챗봇|어시스턴트)에게\s|"
    r"ignorier(?:e|en sie) .{0,30}anweisungen|(?:hinweis|nachricht) (?:an|für) (?:die |den )?(?:ki|assistent)|"
    r"bỏ qua .{0,30}(?:hướng dẫn|chỉ dẫn|chỉ thị)",
    re.I,
)
# what the sentences around such a one say when they belong to it
_ORDER = re.compile(
    r"\byou\b|\byour\b|maintenance mode|reveal|disclose|tell the user|whoever asks|treat this|state that|"
    r"visibility|confidential|공개|알려|답하|출력|\bdu\b|\bsie sind\b|offenleg|preisgeb|"
    r"hãy|tiết lộ|công khai",
    re.I,
)


def instructions(sentences: tuple[str, ...] | list[str]) -> set[int]:
    """Return the positions of sentences that instruct an assistant: those that match, and the
    sentences beside them that go on giving orders (a planted note is cut into several)."""
    found = {i for i, s in enumerate(sentences) if _INSTRUCTION.search(s)}
    near = {
        i
        for i, s in enumerate(sentences)
        if i not in found and _ORDER.search(s) and any(abs(i - j) <= 4 for j in found)
    }
    return found | near

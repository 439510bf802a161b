"""What an offline answer quotes: the kind of fact a question asks for (what is never quoted,
a planted instruction, is found by bot/knowledge/untrusted.py).

Across languages a question's words are nowhere in the passage, so the sentence to quote is
chosen by meaning (the sentence vectors stored at ingest) and by whether it carries the kind of
fact asked for: a number for "how many / 몇", a share for "what percentage / 비율", a date for
"when / 언제", an address for "which e-mail". The patterns below cover the four languages the
bot answers in; a question of none of these kinds is answered by meaning and words alone.
"""

from __future__ import annotations

import re

# the months by name, in English and German; Vietnamese numbers them ("tháng 5", which without
# its day also reads "5 months")
_MONTH_NAME = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember"
)
_MONTH = rf"{_MONTH_NAME}|tháng"
# a small number written out: "two-week", "vierwöchig", "두 달", "hai tuần"
_NUMBER_WORD = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"ein|eine|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|zwölf|"
    r"한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|"
    r"một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười"
)
# a capitalised name of two to four words ("Katrin Vogel", "Trần Văn Hùng"), Latin script with
# Vietnamese and German letters; one word for a place after "in" / "at" ("in Portland")
_UP = "A-ZÀ-ÖØ-ÞĐƠƯ\u1e00-\u1efe"
_LOW = "a-zß-öø-ÿđơư\u1e01-\u1eff\u0300-\u036f"
_NAME1 = rf"[{_UP}][{_LOW}]+"
_NAME = rf"{_NAME1}(?:[ -]{_NAME1}){{1,3}}"
# what a person is called by their office, in the four languages
_ROLE = (
    r"mayor|director|manager|officer|chair(?:man|woman|person)?|coordinator|head|deputy|"
    r"president|secretary|interpreter|speaker|contact|signed by|bürgermeister(?:in)?|"
    r"oberbürgermeister(?:in)?|leiter(?:in)?|referent(?:in)?|dolmetscher(?:in)?|"
    r"ansprechperson(?:en)?|chủ tịch|giám đốc|trưởng phòng|phó|phiên dịch|người liên hệ|"
    r"위원장|시장|국장|과장|실장|부실장|팀장|담당자?|통역사?|발표자|연사|좌장|서명"
)
# (kind, what in a question asks for it, what in a sentence carries it); the first that asks wins
_KINDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(r"e-?mail|메일|mail-adresse|thư điện tử|địa chỉ thư", re.I),
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    ),
    (
        # a document's reference: a notice's number ("한빛시 공고 제2026-812호", "Nr. 12/2026")
        "reference",
        re.compile(
            r"(?:notice|reference|file|case|document|announcement)\s(?:no\b|number)|"
            r"(?:공고|문서|접수|등록)\s?번호|aktenzeichen|geschäftszeichen|"
            r"(?:bekanntmachungs|referenz|vorgangs)nummer|số hiệu|số (?:thông báo|văn bản|công văn)",
            re.I,
        ),
        re.compile(
            r"제\s?\d[\d-]*\s?호|\b(?:no|nr|số)\.?\s?\d+[-/]\d+|"
            r"(?:공고|문서|접수|등록)\s?번호\s*:?\s*\S*\d|(?:aktenzeichen|az\.)\s*:?\s*\S*\d",
            re.I,
        ),
    ),
    (
        "phone",
        re.compile(
            r"phone|telephone|number to call|extension|\bext\b|전화|내선|연락처|telefon|durchwahl|"
            r"điện thoại|số máy",
            re.I,
        ),
        # "+49-211-555-2840", "062-410-3224", "0211 555-2846", "(02) 123-4567", "내선 3207" (not a
        # date's "2026. 8. 17.")
        re.compile(
            r"\+\d[\d\s()-]{6,}\d|\(?\d{2,4}\)?[\s-]\d{3,4}-\d{4}|(?:내선|ext\.?|durchwahl|"
            r"telefon|tel\.?|phone|số máy)\s*:?\s*\d{3,}",
            re.I,
        ),
    ),
    (
        "share",
        re.compile(
            r"percent|percentage|\bshare\b|\brate\b|비율|퍼센트|%|prozent|anteil|quote|"
            # Korean rates: 손실률, 이용률, 참여율, 증가율 (not 법률, 효율, 자율, 조율)
            r"(?<!법)률|(?:비|가|여|소|유|수|급)율|"
            r"phần trăm|tỷ lệ|tỉ lệ",
            re.I,
        ),
        re.compile(r"\d\s?%|퍼센트|prozent|percent|phần trăm", re.I),
    ),
    (
        # a time of day ("what time is the call": 16:00 KST, 오후 4시, 8 Uhr, 14h30)
        "time",
        re.compile(
            r"what time|at which time|몇\s?시(?!간)|um wie viel uhr|wie spät|uhrzeit|mấy giờ|"
            r"giờ nào",
            re.I,
        ),
        re.compile(
            r"(?<![\d:])(?:[01]?\d|2[0-4]):[0-5]\d(?!\d)|(?:오전|오후)\s?\d{1,2}\s?시|\d{1,2}\s?시(?:\s?\d{1,2}\s?분)?"
            r"(?![간작대])|\b\d{1,2}(?:\.\d{2})?\s?uhr\b|\b\d{1,2}\s?(?:a\.m\.|p\.m\.|am\b|pm\b)|"
            r"\b\d{1,2}h\d{2}\b|\b\d{1,2}\s?giờ",
            re.I,
        ),
    ),
    (
        # an age ("how old", "나이 제한", "wie alt"): its answer is "18 Jahre alt", "25세", "between
        # 25 and 45 years old", not any number
        "age",
        re.compile(
            r"how old|\bage\b|나이|연령|몇\s?살|wie alt|(?:mindest|höchst)?alter\b|altersgrenze|"
            r"bao nhiêu tuổi|mấy tuổi|độ tuổi|\btuổi\b",
            re.I,
        ),
        re.compile(
            r"\d+\s?(?:세|살)|만\s?\d+|\d+\s?(?:years?|jahre?n?)\s(?:old|alt)|\d+-year-old|"
            r"\b(?:aged?|alter(?: von)?|under|over|unter|über)\s(?:\w+\s)?\d+\b|\d+\s?tuổi|"
            r"(?:từ|dưới|trên)\s\d+\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|what date|which date|what year|which year|since when|언제|며칠|"
            r"몇\s?년(?!\s?(?:마다|간|동안|짜리|씩))|"
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
            r"how long|기간|얼마(?:나|동안)\s?(?:걸|머무|체류|하)|몇\s?(?:시간|주|개월|달)|wie lange|"
            r"dauer|bao lâu|"
            # a span asked by counting its unit ("for how many years", "몇 년마다", "bao nhiêu
            # năm"): its answer is "four years", "3년", not a count of things
            r"how many (?:years|months|weeks|days|hours|nights)\b|몇\s?년\s?(?:마다|간|동안|짜리|씩)|"
            r"wie viele (?:jahre|monate|wochen|tage|stunden|nächte)\b|"
            r"(?:bao nhiêu|mấy) (?:năm|tháng|tuần|ngày|giờ|đêm)\b",
            re.I,
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
        # a count of people: its answer has a people's counter ("약 420명", "18 from Bien Hoa",
        # "142 registered participants", "5 thành viên"), not just any number
        "headcount",
        re.compile(
            r"몇\s?명|인원|참석자 수|참가자 수|"
            r"how many (?:\w+ ){0,2}(?:people|persons|participants|attendees|residents|visitors|"
            r"students|delegates|officials|staff|employees|trainees|members|young|youths?|"
            r"teenagers|volunteers|experts|speakers|interpreters|engineers|came|attended|joined|"
            r"took part|registered)|number of (?:people|participants|attendees)|"
            r"wie viele (?:\w+ ){0,2}(?:personen|menschen|leute|teilnehm\w*|einwohner\w*|besucher\w*|"
            r"jugendliche\w*|beschäftigte\w*|mitarbeit\w*|auszubildende\w*|gäste|mitglieder|"
            r"expert\w*|delegierte\w*|kam|kamen|nahmen)|"
            r"bao nhiêu (?:\w+ ){0,2}(?:người|đại biểu|học viên|thành viên|cán bộ|chuyên gia|khách)|"
            r"mấy người",
            re.I,
        ),
        re.compile(
            r"\d\s?(?:여\s?)?명|"
            r"\d[\d,.]*\+?\s+(?:\w+\s){0,2}(?:people|persons|participants|attendees|residents|"
            r"visitors|students|delegates|officials|staff|employees|trainees|members|youths?|"
            r"volunteers|experts|speakers|engineers|registered|from\s[A-Z])|"
            r"\d[\d.]*\s+(?:\w+\s)?(?:personen|menschen|teilnehm|einwohner|besucher|jugendliche|"
            r"beschäftigte|mitarbeit|auszubildende|gäste|mitglieder|expert|delegierte)|"
            r"\d[\d.]*\s+(?:người|đại biểu|học viên|thành viên|cán bộ|chuyên gia|khách)|"
            r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|zwei|drei|vier|fünf|"
            r"sechs|zehn|zwölf|hai|ba|bốn|năm|mười)\s+(?:\w+\s)?(?:people|persons|participants|"
            r"officials|staff|employees|trainees|members|engineers|experts|delegates|students|"
            r"personen|teilnehm\w*|beschäftigte|auszubildende|người|cán bộ|học viên)",
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
    (
        "person",
        re.compile(
            # (not "who pays": the answer is a city or a party, not a person to reach)
            r"\bwho(?:m|se)?\b(?!\s+(?:pays?|paid|covers?|bears?|funds?|finances?|foots?)\b)|"
            r"which (?:person|official|officer|interpreter|speaker)|contact person|"
            r"누구(?!\s?(?:부담|돈|비용))|누가(?!\s?(?:내|부담|지불|지급|대요|대나|책임))|담당자|성함|"
            r"\bwer\b(?!\s+(?:zahlt|bezahlt|trägt|übernimmt|finanziert)\b)|\bwen\b|\bwem\b|wessen|"
            r"ansprechp|(?:là|do|của|với|cho|gặp|liên hệ)\s+ai\b(?!\s+(?:chi trả|trả|chịu|thanh toán))|"
            r"\bai\s+(?:là|ký|phụ trách|đã|sẽ)|người nào",
            re.I,
        ),
        re.compile(
            # a title before a name, a name after a role or a label, a Korean name with its
            # title, a name with its role in brackets or after a comma, a contact's address
            rf"(?:Mr|Ms|Mrs|Dr|Prof|Herr|Frau|[ÔôBb][nà]g?)\.?\s+{_NAME}|"
            rf"(?i:{_ROLE})\s*[:,(]?\s*{_NAME}|{_NAME}\s*(?:\(|,\s*)(?i:[^)]{{0,40}}?{_ROLE})|"
            rf"(?:^|[:(]\s*|[-–]\s){_NAME}\s*(?:\(|,|$)|"
            r"[가-힣]{2,4}\s?(?:시장|부시장|과장|국장|팀장|주무관|사무관|위원장|부위원장|대표|교수|"
            r"원장|센터장|실장|부실장|통역사|씨)(?![가-힣])|[\w.+-]+@[\w-]+\.[\w.]+",
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|which (?:city|venue|place|room|country|hotel)|what venue|location|어디|"
            r"어느 (?:곳|장소|도시|나라)|장소|위치|\bwo\b|wohin|welche[rnms]? (?:stadt|ort|raum)|"
            r"\bort\b|ở đâu|\bđâu\b|địa điểm|nơi nào|thành phố nào",
            re.I,
        ),
        re.compile(
            # a venue's label or noun, a name after "in / at / tại", an address to send to
            r"(?i:venue|location|장소|위치|소재|\bort\b|veranstaltungsort|địa điểm|"
            r"city hall|\broom\b|\bhall\b|center|centre|hotel|university|museum|library|"
            r"rathaus|saal|zentrum|universität|khách sạn|trung tâm|hội trường|phòng họp)|"
            r"(?:시청|청사|회의실|센터|호텔|대학교|공원|기념관|박물관|도서관|광장|공항|발전소|사무소|"
            r"연수원)(?![가-힣])|"
            rf"\b(?:in|at|im|am|tại|ở)\s+(?:the\s+|der\s+|dem\s+)?{_NAME1}|"
            r"[\w.+-]+@[\w-]+\.[\w.]+|https?://\S+|\bwww\.\S+",
        ),
    ),
)


# "when" asks for the day something happened; only "what year / 몇 년" is answered by a year
# alone: a bare year in passing ("2015년 의향서 체결 이후") does not say when the agreement was signed
_ASKS_YEAR = re.compile(
    r"what year|which year|몇\s?년(?!\s?[월차])|연도|welche[mn]? jahr|in welchem jahr|năm nào|"
    r"năm bao nhiêu",
    re.I,
)
# a day: "5월 14일", "2026. 5. 18.", "31.12.2027", "2019-05-14", "14. Mai", "May 14", "ngày 15",
# "15/6/2026" (a day no greater than 31, a month no greater than 12: "50/50" is a share)
_DAY = re.compile(
    rf"\d{{1,2}}\s?월\s?\d{{1,2}}\s?일|(?<!\d)\d{{1,2}}\.\s?\d{{1,2}}\.|"
    rf"(?:19|20)\d\d[.-]\s?\d{{1,2}}[.-]\s?\d{{1,2}}(?!\d)|"
    rf"(?<!\d)\d{{1,2}}\.?\s(?:{_MONTH_NAME})\b|\b(?:{_MONTH_NAME})\s\d{{1,2}}(?!\d)|"
    rf"\bngày\s\d{{1,2}}|(?<!\d)(?:[1-9]|[12]\d|3[01])/(?:[1-9]|1[0-2])(?:/(?:19|20)?\d\d)?(?![\d%])",
    re.I,
)


def asked_kind(question: str) -> str | None:
    """Return the kind of fact a question asks for, or None when it asks for none of them.

    A date asked with "when" is a "day" (a sentence giving only a year carries it in part, see
    fact_share); one asked with "what year" is a "date", which a year answers."""
    for kind, asks, _carries in _KINDS:
        if asks.search(question):
            return "day" if kind == "date" and not _ASKS_YEAR.search(question) else kind
    return None


_PATTERNS = {name: carried for name, _asks, carried in _KINDS} | {"day": _DAY}
# what a count is not: the digits of an address, a telephone number or a date ("how many took
# part" is not answered by "문의: 044-300-1234" or "2026. 5. 18.")
_ENUMERATOR = re.compile(r"^\s*(?:[-•·*]\s*)?\(?\d{1,2}[.)](?!\d)|제\s?\d+\s?[조항호]")
_NOT_COUNTS = tuple(_PATTERNS[name] for name in ("email", "phone", "date"))


def carries(kind: str | None, sentence: str) -> bool:
    """Tell whether a sentence holds a fact of the kind (False for no kind)."""
    if kind is None or kind not in _PATTERNS:
        return False
    if kind in ("count", "headcount"):
        # a list's number ("1. HWC will accept …", "2) …", "제3조") is no count
        sentence = _ENUMERATOR.sub(" ", sentence)
        for other in _NOT_COUNTS:
            sentence = other.sub(" ", sentence)
    return bool(_PATTERNS[kind].search(sentence))


# what a sentence that gives only the year is worth to a question asking for the day
YEAR_FOR_DAY = 0.5


def fact_share(kind: str | None, sentence: str) -> float:
    """Return how much of the fact asked for a sentence holds: 1 when it carries the kind, a
    share when a day is asked and it gives a year or a month only, else 0."""
    if carries(kind, sentence):
        return 1.0
    if kind == "day" and carries("date", sentence):
        return YEAR_FOR_DAY
    return 0.0

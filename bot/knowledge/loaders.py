"""Loaders: turn a file of any supported format into metadata and heading-tagged sections."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain import DocMeta, Section, Visibility
from bot.nlp import LABELLED_LINE, normalize

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx", ".hwp", ".hwpx")
SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"\A\ufeff?---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Korean statute-style and numbered headings found in agreements and manuals.
_PLAIN_HEADING = re.compile(
    r"^(제\s*\d+\s*(?:조|장|절)(?:\s*\([^)]{1,40}\))?|Article\s+\d+[^.]{0,60}|Artikel\s+\d+[^.]{0,60}|Điều\s+\d+[^.]{0,60}|[IVX]+\.\s+\S.{0,60}|\d+(?:\.\d+)*\.?\s+[^\d\s].{0,60})$"
)
# Formats whose headings are guessed from numbering ("제3조", "1. 개요"): such a heading never
# names the document, so a title taken from the text is the first line, not the first heading.
_FLAT_FORMATS = (".txt", ".pdf", ".hwp", ".hwpx")
# A first line used as a title can be a whole paragraph; a citation needs a name, not the text.
_TITLE_MAX = 120
_TITLE_MIN = 6  # letters (spaces aside) of a first line taken for a flat format's title heading
_UNDERLINE = re.compile(r"={3,}|-{3,}")
# hwp-hwpx-parser writes a table as Markdown rows; cells are split on unescaped pipes.
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
# a numbered line of one level ("5. 선발 절차", not "5.1 일정"), and how a sentence ends
_NUMBERED = re.compile(r"^(\d{1,2})\.?\s")  # (not "2024 결과보고서")
_SUBNUMBERED = re.compile(r"^\d+\.\d")
_SENTENCE_END = (".", "다", "。", "!", "?")
_TABLE_RULE = re.compile(r":?-{3,}:?")

Line = tuple[int | None, str]


class LoadError(Exception):
    """A file could not be read; the message says why, for the person running ingest."""


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns: the document's metadata and its sections in order."""

    meta: DocMeta
    sections: tuple[Section, ...]

    @property
    def text(self) -> str:
        """Return the whole text (used for hashing and tests)."""
        return "\n\n".join(s.text for s in self.sections)


def is_supported(path: Path) -> bool:
    """Tell whether ingest should read this file."""
    name = path.name.lower()
    return (
        path.suffix.lower() in SUPPORTED
        and not name.endswith(SIDECAR_SUFFIX)
        and not name.startswith((".", "~$"))
    )


def load(path: Path, source: str, default_visibility: Visibility) -> LoadedDocument:
    """Load one file; raise LoadError with a human reason when it cannot be read."""
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise LoadError(f"unsupported format {suffix or '(none)'}")
    try:
        raw_meta, lines = reader(path)
    except LoadError:
        raise
    except Exception as exc:  # every parser fails differently; report, never crash the run
        raise LoadError(f"cannot read {suffix[1:].upper()}: {type(exc).__name__}: {exc}") from exc
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        try:
            raw_meta = {**raw_meta, **(yaml.safe_load(sidecar.read_text("utf-8")) or {})}
        except yaml.YAMLError as exc:
            raise LoadError(f"bad sidecar {sidecar.name}: {exc}") from exc
    flat = suffix in _FLAT_FORMATS
    title = _title_from_lines(lines, first_heading=not flat)
    if flat:
        lines = _title_as_heading(lines)
    sections = tuple(s for s in sections_from_lines(lines) if s.text.strip())
    if not sections:
        raise LoadError("no text found (scanned image or empty file?)")
    meta = _meta(raw_meta, source, path, title, default_visibility)
    return LoadedDocument(meta, sections)


def _title_from_lines(lines: list[Line], first_heading: bool = True) -> str:
    """Name a document without metadata: its first heading, else its first non-empty line."""
    if first_heading:
        heading = next((t.strip() for level, t in lines if level is not None and t.strip()), "")
        if heading:
            return heading
    first = next((t.strip() for _, t in lines if t.strip()), "")
    if len(first) <= _TITLE_MAX:
        return first
    cut = first[:_TITLE_MAX].rsplit(" ", 1)[0] or first[:_TITLE_MAX]
    return cut.rstrip(" ,;:") + "…"


def _title_as_heading(lines: list[Line]) -> list[Line]:
    """Make a flat format's first line a level-1 heading when it is a title, not a sentence.

    Text, PDF and HWP files have no heading marks of their own; their first line is the
    document's title ("2026년 한빛시 청소년 국제교류 프로그램 운영 안내"). As body text it would
    be a passage of its own (a title and nothing else) that is near every question about the
    document and is found first; as a heading its words go with every passage of the document
    (chunking: the heading path is indexed with each passage). A line that ends a sentence, a
    table row or a long paragraph stays body text; so does a letterhead ("한 빛 시"), whose
    letters are too few to be a title. Rules of '=' or '-' alone (a text file's underline)
    carry no words and are left out. A document of one line keeps it as its text.
    """
    out = [(level, text) for level, text in lines if not _UNDERLINE.fullmatch(text.strip())]
    for i, (level, text) in enumerate(out):
        s = text.strip()
        if not s:
            continue
        if (
            level is None
            and len(s) <= _TITLE_MAX
            and len(s.replace(" ", "")) >= _TITLE_MIN
            and not s.endswith(_SENTENCE_END)
            and " | " not in s
            and any(lv is None and t.strip() for lv, t in out[i + 1 :])  # (else it is all)
        ):
            out[i] = (1, s)
        break
    return out


def _meta(
    raw: dict[str, Any], source: str, path: Path, derived_title: str, default: Visibility
) -> DocMeta:
    vis_raw = str(raw.get("visibility") or default.value).strip().lower()
    try:
        visibility = Visibility(vis_raw)
    except ValueError as exc:
        raise LoadError(
            f"unknown visibility {vis_raw!r} (use public, partner or internal)"
        ) from exc
    title = (
        str(raw.get("title") or "").strip()
        or derived_title
        or path.stem.replace("_", " ").replace("-", " ")
    )
    return DocMeta(
        source=source,
        title=title,
        kind=str(raw.get("kind") or "").strip(),
        partner=str(raw.get("partner") or "").strip(),
        date=str(raw.get("date") or "").strip(),
        language=str(raw.get("language") or "").strip(),
        visibility=visibility,
        webinar=str(raw.get("webinar") or "").strip(),
    )


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Separate YAML front matter from the body; malformed front matter is a load error."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"malformed front matter: {exc}") from exc
    if not isinstance(data, dict):
        raise LoadError("front matter is not a mapping")
    return data, text[m.end() :]


def sections_from_lines(lines: list[Line]) -> list[Section]:
    """Group (heading level or None, text) lines into sections with a heading path."""
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []

    def flush() -> None:
        # blank lines go, but not the first line's indent: a plain-text table's header is
        # aligned with its rule of dashes by the spaces it starts with
        text = re.sub(r"\A(?:[ \t]*\n)+", "", "\n".join(buf).rstrip())
        if text.strip():
            sections.append(Section(tuple(h for _, h in path), text))
        buf.clear()

    for level, line in lines:
        if level is None:
            buf.append(line)
            continue
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, line.strip()))
    flush()
    return sections


def _plain_lines(text: str, body: frozenset[int] = frozenset()) -> list[Line]:
    """Mark statute-style lines ('제3조(비용)', 'Article 3 Costs') and numbered ones ('5. 선발
    절차') as level-3 headings, Markdown ones by their level; lines whose index is in `body`
    (table rows) are never headings."""
    lines = text.splitlines()
    marked: list[Line] = []
    numbers: dict[int, int] = {}  # line index -> the number of a numbered heading candidate
    for i, line in enumerate(lines):
        stripped = line.strip()
        m = None if i in body else _MD_HEADING.match(stripped)
        if m:
            marked.append((len(m.group(1)), m.group(2)))
        elif i not in body and _PLAIN_HEADING.match(stripped) and len(stripped) <= 70:
            marked.append((3, stripped))
        else:
            marked.append((None, line))
        numbered = None if m or i in body else _NUMBERED.match(stripped)
        if numbered:  # a heading or not, it counts
            numbers[i] = int(numbered.group(1))
    for i in _numbered_items(marked, numbers):
        marked[i] = (None, lines[i])
    return marked


def _numbered_items(marked: list[Line], numbers: dict[int, int]) -> list[int]:
    """Return the numbered lines taken for headings that are list items.

    In a flat format (text, PDF, HWP) a numbered heading ("5. 선발 절차") and a numbered list
    item under it ("1. 신청 기간: 2026. 3. 3.(화)") look alike; taken as a heading, the item
    would replace the section's own heading in every passage's path. So numbered lines are
    counted: a numbered line is a heading when it carries the next heading number (5 after 4),
    else an item (items under a heading count 1, 2, 3 …). When it carries both the next heading
    number and the next item number (the third item under heading 2), it is an item if another
    line with that number comes before one with the next number or a list's first item (the
    real heading 3 is still to come). A line that ends a sentence ("… 부담합니다.") is an item. "5.1 일정" leaves the
    count as it is; another kind of heading ("제2장", "Article 3") starts it again.
    """
    order = sorted(numbers)

    def comes_again(pos: int) -> bool:
        n = numbers[order[pos]]
        for j in order[pos + 1 :]:
            if numbers[j] in (1, n, n + 1):  # (a list starting again: this line opened one)
                return numbers[j] == n
        return False

    items: list[int] = []
    heading: int | None = None  # the number of the last numbered heading
    item = 0  # the number of the last item under it
    pos = 0
    for i, (level, text) in enumerate(marked):
        if i not in numbers:
            if level is not None and not _SUBNUMBERED.match(text):
                heading, item = None, 0
            continue
        n = numbers[i]
        if level is None or text.endswith(_SENTENCE_END):
            is_heading = False
        elif heading is None:
            is_heading = True
        elif n == heading + 1:
            is_heading = n != item + 1 or not comes_again(pos)
        else:
            is_heading = False
        if is_heading:
            heading, item = n, 0
        else:
            if level is not None:
                items.append(i)
            item = n if n in (1, item + 1) else item
        pos += 1
    return items


def _read_text_file(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp949", "euc-kr"):
        try:
            return normalize(data.decode(enc))
        except UnicodeDecodeError:
            continue
    raise LoadError("not valid UTF-8 or CP949 text")


def _load_markdown(path: Path) -> tuple[dict[str, Any], list[Line]]:
    meta, body = split_front_matter(_read_text_file(path))
    lines: list[Line] = []
    in_code = False
    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else _MD_HEADING.match(line.strip())
        lines.append((len(m.group(1)), m.group(2)) if m else (None, line))
    return meta, lines


def _load_txt(path: Path) -> tuple[dict[str, Any], list[Line]]:
    meta, body = split_front_matter(_read_text_file(path))
    return meta, _plain_lines(body)


# Page furniture that web pages carry around the real content.
_HTML_DROP = [
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "select",
    "template",
]
_HTML_DROP_HINT = re.compile(
    r"(^|[\s_-])(nav|navbar|menu|gnb|lnb|snb|breadcrumb|location|sidebar|side|footer|foot|header|"
    r"cookie|consent|banner|share|sns|skip|quick|util|family-?site|popup|copyright|pagination|"
    r"satisfaction|survey|rating|feedback|poll)($|[\s_-])",
    re.I,
)


def _load_html(path: Path) -> tuple[dict[str, Any], list[Line]]:
    from bs4 import BeautifulSoup, Tag

    meta, body = split_front_matter(_read_text_file(path))
    soup = BeautifulSoup(body, "lxml")
    title_tag = soup.find("title")
    if "title" not in meta and title_tag and title_tag.get_text(strip=True):
        meta["title"] = _clean_web_title(title_tag.get_text(" ", strip=True))
    footer = _footer_lines(soup)
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in list(soup.find_all(True)):
        if not isinstance(tag, Tag) or tag.decomposed or not tag.attrs:
            continue
        hint = " ".join(
            [
                str(tag.get("id") or ""),
                *map(str, tag.get("class") or []),
                str(tag.get("role") or ""),
            ]
        )
        if (
            hint.strip()
            and _HTML_DROP_HINT.search(hint)
            and tag.name not in ("body", "html", "main")
        ):
            tag.decompose()
    root = (
        soup.find("main")
        or soup.find("article")
        or soup.find(id=re.compile("content", re.I))
        or soup.body
        or soup
    )
    for table in root.find_all("table"):
        rows = _html_rows(table)
        table.replace_with(soup.new_string("\n\n" + "\n\n".join(rows) + "\n\n"))
    for dl in root.find_all("dl"):
        # a definition list ("공고번호 / 한빛시 공고 제2026-812호"): each term with its values
        fields = _labelled(
            [(i.name == "dt", i.get_text(" ", strip=True)) for i in dl(["dt", "dd"])]
        )
        dl.replace_with(soup.new_string("\n\n" + "\n\n".join(fields) + "\n\n"))
    for heading in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        text = heading.get_text(" ", strip=True)
        heading.replace_with(soup.new_string(f"\n\x01{heading.name[1]}\x01{text}\n"))
    for block in root.find_all(
        ["p", "li", "div", "dd", "dt", "blockquote", "section", "pre", "br"]
    ):
        block.append(soup.new_string("\n\n"))
    lines: list[Line] = []
    for line in root.get_text("").splitlines():
        if line.startswith("\x01"):
            _, level, text = line.split("\x01", 2)
            lines.append((int(level), text))
        else:
            lines.append((None, line.strip()))
    if footer:  # under the site's name ("… | 한빛시청"), else its first line
        parts = _TITLE_PARTS.split(title_tag.get_text(" ", strip=True)) if title_tag else []
        lines += [(1, parts[-1] if len(parts) > 1 else footer[0]), *((None, f) for f in footer)]
    return meta, lines


_COPYRIGHT = re.compile(r"copyright|©|all rights reserved|무단.{0,6}금지", re.I)
_FOOTER_HINT = re.compile(r"(^|[\s_-])(footer|foot)($|[\s_-])", re.I)


def _footer_lines(soup: Any) -> list[str]:
    """Return a page's footer as lines: the site's address, telephone and hours, without its
    lists of links, its menus and its copyright (a page's menus and footer are dropped, but the
    footer is often the only place that says how to reach the office)."""
    from bs4 import Tag

    feet = [
        t
        for t in soup.find_all(True)
        if isinstance(t, Tag)
        and (
            t.name == "footer"
            or _FOOTER_HINT.search(
                " ".join([str(t.get("id") or ""), *map(str, t.get("class") or [])])
            )
        )
    ]
    lines: list[str] = []
    for foot in feet:
        if any(parent in feet for parent in foot.parents):
            continue
        foot = copy.copy(foot)
        for tag in foot(["script", "style", "select", "form", "button", "nav", "iframe"]):
            tag.decompose()
        for listing in foot(["ul", "ol"]):
            if all(item.find("a") for item in listing("li")):  # a list of links
                listing.decompose()
        for br in foot("br"):
            br.replace_with("\n")
        for block in foot(["p", "div", "address", "li", "strong", "dd"]):
            block.append("\n")
        for line in foot.get_text("").splitlines():
            line = " ".join(line.split())
            if line and not _COPYRIGHT.search(line) and line not in lines:
                lines.append(line)
    return lines


def _labelled(items: list[tuple[bool, str]]) -> list[str]:
    """Join (is a label, text) items as "label: value, value" pairs."""
    pairs: list[list[str]] = []
    for is_label, text in items:
        if is_label or not pairs:
            pairs.append([text])
        elif text:
            pairs[-1].append(text)
    return [": ".join(filter(None, (p[0], ", ".join(p[1:])))) for p in pairs if any(p)]


def _html_rows(table: Any) -> list[str]:
    """Say a web page's table as lines: a table with a header row as "a | b" rows (the first
    is the header, as the other loaders give tables), and one whose rows are labelled by their
    own header cells (a notice's "등록일 | 2026-04-27 | 조회수 | 1,284") as a "label: value" line
    for each label."""
    rows = [tr.find_all(["th", "td"]) for tr in table.find_all("tr")]
    rows = [r for r in rows if any(c.get_text(strip=True) for c in r)]
    labelled = not any(all(c.name == "th" for c in r) for r in rows) and any(
        r[0].name == "th" for r in rows
    )
    lines = []
    for row in rows:
        cells = [(c.name == "th", c.get_text(" ", strip=True)) for c in row]
        lines += _labelled(cells) if labelled else [" | ".join(t for _, t in cells)]
    return lines


# a web page's title names the page, then its board and site: "공지사항 상세 | … | 한빛시청"
_TITLE_PARTS = re.compile(r"\s+[|:–—-]\s+")


def _clean_web_title(title: str) -> str:
    # "공지사항 상세 | 한빛시청" -> "공지사항 상세"
    return _TITLE_PARTS.split(title)[0].strip() or title


def _load_pdf(path: Path) -> tuple[dict[str, Any], list[Line]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise LoadError("PDF is encrypted")
        # the layout mode keeps a table's columns apart (the plain one gives a row as one run
        # of words, "뒤셀도르프(독일) US$ 190 US$ 240", under a header that says nothing)
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
    except PdfReadError as exc:
        raise LoadError(f"corrupt PDF: {exc}") from exc
    meta: dict[str, Any] = {}
    info = reader.metadata
    if info and info.title:
        meta["title"] = str(info.title)
    lines, rows = _join_pdf_lines(_aligned_rows(normalize("\n".join(pages)).splitlines()))
    return meta, _plain_lines("\n".join(lines), rows)


# a cell of a line laid out as on the page: words with no gap of two spaces between them
_CELL = re.compile(r"\S(?:\S| (?! ))*")
TABLE_MIN_ROWS = 3
COLUMN_SLACK = 6


def _aligned_rows(lines: list[str]) -> list[tuple[str, bool]]:
    """Read lines laid out as on the page: a run of at least TABLE_MIN_ROWS lines whose cells
    (text between gaps of two or more spaces) start at the same columns, give or take
    COLUMN_SLACK, is a table, given as 'cell | cell' rows (True); every other line is its
    words, single-spaced (False)."""
    cells = [[(m.start(), m.group()) for m in _CELL.finditer(line)] for line in lines]

    def aligned(a: list[tuple[int, str]], b: list[tuple[int, str]]) -> bool:
        # (the layout mode places a proportional font's text a few columns off its point)
        return len(a) == len(b) >= 2 and all(
            abs(x - y) <= COLUMN_SLACK for (x, _), (y, _) in zip(a, b, strict=True)
        )

    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and aligned(cells[i], cells[j]):
            j += 1
        if j - i >= TABLE_MIN_ROWS:
            out += [(" | ".join(text for _, text in row), True) for row in cells[i:j]]
            i = j
            continue
        out.append((" ".join(lines[i].split()), False))
        i += 1
    return out


def _join_pdf_lines(lines: list[tuple[str, bool]]) -> tuple[list[str], frozenset[int]]:
    """Undo PDF line wrapping: join a line to the next unless it ends a sentence or is a heading,
    a table row (True) or a field; return the lines and which of them are table rows."""
    out: list[str] = []
    rows: set[int] = set()
    for s, row in lines:
        if row:
            rows.add(len(out))
            out.append(s)
        elif not s:
            out.append("")
        elif (
            out
            and out[-1]
            and len(out) - 1 not in rows
            and not out[-1].endswith((".", "!", "?", ":", "다.", "|"))
            and not _PLAIN_HEADING.match(s)
            and not _PLAIN_HEADING.match(out[-1])
            and not s.startswith(("-", "•", "·", "*"))
            and not LABELLED_LINE.match(s)  # "발표자: Sabine Kuhn" is a field of its own
        ):
            out[-1] = out[-1] + " " + s
        else:
            out.append(s)
    return out, frozenset(rows)


def _load_docx(path: Path) -> tuple[dict[str, Any], list[Line]]:
    import zipfile

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt DOCX: {exc}") from exc
    meta: dict[str, Any] = {}
    if document.core_properties.title:
        meta["title"] = document.core_properties.title
    lines: list[Line] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            if not text:
                continue
            style = (para.style.name if para.style is not None else "") or ""
            level = _docx_heading_level(style)
            # a paragraph is a paragraph: a blank line after it keeps a list item without a
            # full stop ("Format: online …") from running on into the next one
            lines += [(level, text), (None, "")]
        elif tag == "tbl":
            table = Table(child, document)
            for row in table.rows:
                cells = [c.text.strip() for c in row.cells]
                if any(cells):
                    lines.append((None, " | ".join(cells)))
    return meta, lines


def _docx_heading_level(style: str) -> int | None:
    if style == "Title":
        return 1
    m = re.match(r"(?:Heading|제목)\s*(\d)", style)
    return int(m.group(1)) if m else None


def _load_hwp(path: Path) -> tuple[dict[str, Any], list[Line]]:
    from hwp_hwpx_parser import ExtractOptions, ImageMarkerStyle, Reader

    with Reader(str(path)) as reader:
        if not reader.is_valid:
            raise LoadError("not a valid HWP/HWPX file")
        if reader.is_encrypted:
            raise LoadError("HWP document is password-protected")
        # an "[IMAGE]" placeholder per picture would be a sentence of its own in the chunks
        options = ExtractOptions(image_marker=ImageMarkerStyle.NONE)
        text = normalize(reader.extract_text(options) or "")
    return {}, _hwp_lines(text)


def _hwp_lines(text: str) -> list[Line]:
    """Read paragraphs as plain text does, with Markdown table rows as 'cell | cell' body lines.

    That is how the DOCX and HTML loaders give table rows. A row is never a heading (a row
    "1 | 홍길동 | 단장" looks like a numbered one), and the rule under the first row and rows of
    empty cells (layout tables) carry no words, so they are left out.
    """
    kept: list[str] = []
    rows: set[int] = set()
    for line in text.splitlines():
        s = line.strip()
        if not (len(s) >= 2 and s.startswith("|") and s.endswith("|")):
            # a line is a paragraph: a blank line after it keeps one without a full stop (a
            # letterhead's "한빛시장", an address) from running on into the next
            kept += [line, ""] if s else [line]
            continue
        cells = [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(s[1:-1])]
        if all(_TABLE_RULE.fullmatch(c) for c in cells) or not any(cells):
            continue
        rows.add(len(kept))
        kept.append(" | ".join(cells))
    return _plain_lines("\n".join(kept), frozenset(rows))


_READERS: dict[str, Callable[[Path], tuple[dict[str, Any], list[Line]]]] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_txt,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
    ".hwp": _load_hwp,
    ".hwpx": _load_hwp,
}

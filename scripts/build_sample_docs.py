#!/usr/bin/env python3
"""Build the binary sample documents (PDF, DOCX, HWPX, HWP) of the sample knowledge base.

Sources live in ``knowledge_src/<kind-folder>/<name>.<format>.md``: a Markdown file
with YAML front matter (title, kind, partner, date, language, visibility), e.g.
``knowledge_src/agreements/riverton-education-mou-2023.pdf.md``.

For every source the script writes
  * ``knowledge/<kind-folder>/<name>.<format>``           (the binary document), and
  * ``knowledge/<kind-folder>/<name>.<format>.meta.yaml`` (sidecar: the front matter).

Supported formats: ``pdf`` (fpdf2, needs a Korean TTF font such as NanumGothic),
``docx`` (python-docx, real heading styles), ``hwpx`` (OWPML zip written by hand) and
``hwp`` (HWP 5.0 binary, written by hwp-converter-ai; see build_hwp for what is rewritten).

After writing, every output is read back (pypdf / python-docx / hwp-hwpx-parser) and
checked to contain every body line of its source; the build fails otherwise.

Usage:
    python scripts/build_sample_docs.py            # build + verify
    python scripts/build_sample_docs.py --no-verify
    python scripts/build_sample_docs.py --check    # verify existing outputs only

Requirements: fpdf2, python-docx, hwp-converter-ai, pypdf, hwp-hwpx-parser (for verification)
and fonts-nanum (``apt-get install -y fonts-nanum``) or HANBIT_KB_FONT=/path/to/font.ttf.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import logging
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "knowledge_src"
OUT_DIR = ROOT / "knowledge"
FORMATS = ("pdf", "docx", "hwpx", "hwp")
META_KEYS = ("title", "kind", "partner", "date", "language", "visibility")
# Fixed timestamp so that rebuilding without source changes gives stable files.
FIXED_TIME = _dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=_dt.UTC)

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum-gothic/NanumGothic.ttf",
    "/Library/Fonts/NanumGothic.ttf",
    os.path.expanduser("~/.fonts/NanumGothic.ttf"),
    os.path.expanduser("~/.local/share/fonts/NanumGothic.ttf"),
]
FALLBACK_FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
]
# fontTools prints noise such as "TSI0 NOT subset" while fpdf2 subsets fonts.
logging.getLogger("fontTools").setLevel(logging.ERROR)


class BuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # heading | para | bullet | number | table
    text: str = ""
    level: int = 0
    rows: list = field(default_factory=list)


@dataclass
class Source:
    path: Path
    fmt: str
    meta: dict
    blocks: list

    @property
    def out_path(self) -> Path:
        rel = self.path.relative_to(SRC_DIR)
        name = rel.name[: -len(".md")]  # "<name>.<fmt>"
        return OUT_DIR / rel.parent / name


def _parse_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise BuildError(f"{path}: missing YAML front matter")
    parts = text.split("\n")
    try:
        end = parts[1:].index("---") + 1
    except ValueError:
        raise BuildError(f"{path}: front matter is not closed with '---'") from None
    meta: dict = {}
    for line in parts[1:end]:
        line = line.split(" #", 1)[0].rstrip()
        if not line.strip():
            continue
        if ":" not in line:
            raise BuildError(f"{path}: bad front matter line {line!r}")
        key, value = line.split(":", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key.strip()] = value
    for key in ("title", "kind", "date", "language", "visibility"):
        if not meta.get(key):
            raise BuildError(f"{path}: front matter lacks '{key}'")
    return meta, "\n".join(parts[end + 1 :])


_INLINE = re.compile(r"\*\*(.+?)\*\*|`(.+?)`")


def strip_inline(text: str) -> str:
    return _INLINE.sub(lambda m: m.group(1) or m.group(2), text).strip()


def _parse_blocks(body: str) -> list:
    blocks: list = []
    para: list = []
    table: list = []

    def flush_para():
        if para:
            blocks.append(Block("para", strip_inline(" ".join(para))))
            para.clear()

    def flush_table():
        if table:
            blocks.append(Block("table", rows=[r[:] for r in table]))
            table.clear()

    for raw in body.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            flush_para()
            cells = [strip_inline(c) for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in cells):
                continue  # separator row
            table.append(cells)
            continue
        flush_table()
        if not stripped:
            flush_para()
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if m:
            flush_para()
            blocks.append(Block("heading", strip_inline(m.group(2)), level=len(m.group(1))))
            continue
        m = re.match(r"^[-*]\s+(.*)$", stripped)
        if m:
            flush_para()
            blocks.append(
                Block("bullet", strip_inline(m.group(1)), level=1 if line.startswith("  ") else 0)
            )
            continue
        m = re.match(r"^(\d+)\.\s+(.*)$", stripped)
        if m:
            flush_para()
            blocks.append(Block("number", strip_inline(m.group(2)), level=int(m.group(1))))
            continue
        para.append(stripped)
    flush_para()
    flush_table()
    return blocks


def load_sources() -> list:
    sources = []
    for path in sorted(SRC_DIR.rglob("*.md")):
        m = re.match(r"^.+\.(\w+)\.md$", path.name)
        if not m or m.group(1) not in FORMATS:
            raise BuildError(
                f"{path}: source files must be named <name>.<format>.md with format in {FORMATS}"
            )
        meta, body = _parse_front_matter(path.read_text(encoding="utf-8"), path)
        sources.append(Source(path, m.group(1), meta, _parse_blocks(body)))
    if not sources:
        raise BuildError(f"no sources found under {SRC_DIR}")
    return sources


def plain_lines(src: Source) -> list:
    """The text lines a reader should find in the output (used for verification)."""
    lines = []
    for b in src.blocks:
        if b.kind == "table":
            lines.extend(c for row in b.rows for c in row if c)
        else:
            lines.append(b.text)
    return lines


# --------------------------------------------------------------------------- sidecar


def write_sidecar(src: Source) -> Path:
    side = src.out_path.with_name(src.out_path.name + ".meta.yaml")
    out = []
    for key in META_KEYS:
        if key in src.meta and src.meta[key] != "":
            value = str(src.meta[key])
            if key == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                out.append(f"{key}: {value}")
            else:
                out.append(
                    f'{key}: "{value}"'
                    if re.search(r"[:#\[\]{}&*!|>'\"%@`,]", value)
                    else f"{key}: {value}"
                )
    side.write_text("\n".join(out) + "\n", encoding="utf-8")
    return side


# --------------------------------------------------------------------------- PDF


def find_font() -> tuple[str, str | None]:
    env = os.environ.get("HANBIT_KB_FONT")
    candidates = ([env] if env else []) + FONT_CANDIDATES
    for cand in candidates:
        if cand and os.path.isfile(cand):
            bold = cand.replace("NanumGothic.ttf", "NanumGothicBold.ttf")
            return cand, bold if bold != cand and os.path.isfile(bold) else None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=ko", "file"], capture_output=True, text=True, timeout=10
        ).stdout
        for line in out.splitlines():
            f = line.split(":", 1)[0].strip()
            if f.lower().endswith(".ttf"):
                return f, None
    except (OSError, subprocess.SubprocessError):
        pass
    raise BuildError(
        "No Korean TrueType font found for PDF output. Install one with "
        "'apt-get update && apt-get install -y fonts-nanum' (gives "
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf) or set HANBIT_KB_FONT=/path/to/font.ttf."
    )


def build_pdf(src: Source) -> None:
    try:
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos
    except ImportError:
        raise BuildError("fpdf2 is not installed: pip install fpdf2") from None
    regular, bold = find_font()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_title(src.meta["title"])
    pdf.set_lang(src.meta["language"])
    pdf.set_creator("Hanbit Exchange Bot sample builder")
    pdf.set_author("City of Hanbit, International Exchange Division (fictional)")
    pdf.add_font("KB", "", regular)
    pdf.add_font("KB", "B", bold or regular)
    # NanumGothic has no glyphs for Vietnamese letters such as "ố"; use DejaVu as fallback.
    fallback = next((f for f in FALLBACK_FONTS if os.path.isfile(f)), None)
    if fallback:
        pdf.add_font("KBFallback", "", fallback)
        pdf.add_font(
            "KBFallback",
            "B",
            fallback.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
            if os.path.isfile(fallback.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"))
            else fallback,
        )
        pdf.set_fallback_fonts(["KBFallback"])
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text, size=10.5, style="", h=6.2, indent=0.0, gap=1.5):
        pdf.set_font("KB", style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(width - indent, h, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    sizes = {1: 16, 2: 13, 3: 11.5}
    for b in src.blocks:
        if b.kind == "heading":
            pdf.ln(2)
            line(b.text, size=sizes.get(b.level, 11), style="B", h=8, gap=2)
        elif b.kind == "para":
            line(b.text)
        elif b.kind == "bullet":
            line("• " + b.text, indent=5 + 5 * b.level, gap=0.8)
        elif b.kind == "number":
            line(f"{b.level}. {b.text}", indent=5, gap=0.8)
        elif b.kind == "table":
            pdf.set_font("KB", "", 9.5)
            with pdf.table(
                width=width, line_height=5.8, text_align="LEFT", headings_style=_pdf_heading_style()
            ) as table:
                for row in b.rows:
                    r = table.row()
                    for cell in row:
                        r.cell(cell)
            pdf.ln(2)
    pdf.output(str(src.out_path))


def _pdf_heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(225, 232, 242))


# --------------------------------------------------------------------------- DOCX


def build_docx(src: Source) -> None:
    try:
        import docx
        from docx.oxml.ns import qn
        from docx.shared import Pt
    except ImportError:
        raise BuildError("python-docx is not installed: pip install python-docx") from None
    document = docx.Document()
    lang_tag = {"ko": "ko-KR", "en": "en-US", "de": "de-DE", "vi": "vi-VN"}.get(
        src.meta["language"], "en-US"
    )
    # Korean-capable East Asian font + document language on the Normal style.
    normal = document.styles["Normal"]
    normal.font.size = Pt(10.5)
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), "Malgun Gothic")
    lang = rpr.makeelement(qn("w:lang"), {qn("w:val"): lang_tag, qn("w:eastAsia"): "ko-KR"})
    rpr.append(lang)

    props = document.core_properties
    props.title = src.meta["title"]
    props.language = lang_tag
    props.author = "City of Hanbit, International Exchange Division (fictional)"
    props.subject = src.meta.get("kind", "")
    props.keywords = ", ".join(f"{k}={src.meta[k]}" for k in META_KEYS if src.meta.get(k))
    props.created = FIXED_TIME.replace(tzinfo=None)
    props.modified = FIXED_TIME.replace(tzinfo=None)
    props.last_modified_by = "build_sample_docs.py"
    props.revision = 1

    for b in src.blocks:
        if b.kind == "heading":
            if b.level == 1:
                document.add_heading(b.text, level=0)  # Title style
            else:
                document.add_heading(b.text, level=min(b.level - 1, 9))
        elif b.kind == "para":
            document.add_paragraph(b.text)
        elif b.kind == "bullet":
            document.add_paragraph(b.text, style="List Bullet 2" if b.level else "List Bullet")
        elif b.kind == "number":
            # Keep the source numbering as text so that "제3조 2." style references survive.
            document.add_paragraph(f"{b.level}. {b.text}")
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            table = document.add_table(rows=0, cols=ncols)
            table.style = "Table Grid"
            for i, row in enumerate(b.rows):
                cells = table.add_row().cells
                for j, cell in enumerate(row):
                    cells[j].text = cell
                    if i == 0:
                        for run in cells[j].paragraphs[0].runs:
                            run.bold = True
    document.save(str(src.out_path))
    _normalise_zip_times(src.out_path)


def _normalise_zip_times(path: Path) -> None:
    """Rewrite a zip with fixed entry timestamps so rebuilds are byte-identical."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info.filename)) for info in zf.infolist()]
    stamp = FIXED_TIME.timetuple()[:6]
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            new = zipfile.ZipInfo(info.filename, date_time=stamp)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            zf.writestr(new, data)


# --------------------------------------------------------------------------- HWPX

NS = {
    "ha": "http://www.hancom.co.kr/hwpml/2011/app",
    "hp": "http://www.hancom.co.kr/hwpml/2011/paragraph",
    "hp10": "http://www.hancom.co.kr/hwpml/2016/paragraph",
    "hs": "http://www.hancom.co.kr/hwpml/2011/section",
    "hc": "http://www.hancom.co.kr/hwpml/2011/core",
    "hh": "http://www.hancom.co.kr/hwpml/2011/head",
    "hhs": "http://www.hancom.co.kr/hwpml/2011/history",
    "hm": "http://www.hancom.co.kr/hwpml/2011/master-page",
    "hpf": "http://www.hancom.co.kr/schema/2011/hpf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "opf": "http://www.idpf.org/2007/opf/",
    "ooxmlchart": "http://www.hancom.co.kr/hwpml/2016/ooxmlchart",
    "hwpunitchar": "http://www.hancom.co.kr/hwpml/2016/HwpUnitChar",
    "epub": "http://www.idpf.org/2007/ops",
    "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0",
}
XMLNS = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'

# charPr ids: 0 body 10pt, 1 title 16pt bold, 2 heading 13pt bold, 3 sub-heading 11pt bold, 4 table 9pt
CHAR_PRS = [(1000, False), (1600, True), (1300, True), (1100, True), (900, False)]
# paraPr ids: 0 body (justify), 1 heading (left, space before), 2 list item (indented)


def _hwpx_header(meta: dict) -> str:
    langs = ["HANGUL", "LATIN", "HANJA", "JAPANESE", "OTHER", "SYMBOL", "USER"]
    fontfaces = "".join(
        f'<hh:fontface lang="{lang}" fontCnt="1"><hh:font id="0" face="함초롬바탕" type="TTF" isEmbedded="0">'
        f'<hh:typeInfo familyType="FCAT_GOTHIC" weight="6" proportion="4" contrast="0" strokeVariation="1" '
        f'armStyle="1" letterform="1" midline="1" xHeight="1"/></hh:font></hh:fontface>'
        for lang in langs
    )
    font_ref = (
        '<hh:fontRef hangul="0" latin="0" hanja="0" japanese="0" other="0" symbol="0" user="0"/>'
    )

    def seven(tag: str, v: object) -> str:
        return f'<hh:{tag} hangul="{v}" latin="{v}" hanja="{v}" japanese="{v}" other="{v}" symbol="{v}" user="{v}"/>'

    char_prs = "".join(
        f'<hh:charPr id="{i}" height="{h}" textColor="#000000" shadeColor="none" useFontSpace="0" useKerning="0" '
        f'symMark="NONE" borderFillIDRef="1">{font_ref}{seven("ratio", 100)}{seven("spacing", 0)}'
        f"{seven('relSz', 100)}{seven('offset', 0)}{'<hh:bold/>' if b else ''}"
        f'<hh:underline type="NONE" shape="SOLID" color="#000000"/><hh:strikeout shape="NONE" color="#000000"/>'
        f'<hh:outline type="NONE"/><hh:shadow type="NONE" color="#B2B2B2" offsetX="10" offsetY="10"/></hh:charPr>'
        for i, (h, b) in enumerate(CHAR_PRS)
    )

    def para_pr(pid, align, left, prev):
        return (
            f'<hh:paraPr id="{pid}" tabPrIDRef="0" condense="0" fontLineHeight="0" snapToGrid="1" '
            f'suppressLineNumbers="0" checked="0"><hh:align horizontal="{align}" vertical="BASELINE"/>'
            f'<hh:heading type="NONE" idRef="0" level="0"/>'
            f'<hh:breakSetting breakLatinWord="KEEP_WORD" breakNonLatinWord="KEEP_WORD" widowOrphan="0" '
            f'keepWithNext="0" keepLines="0" pageBreakBefore="0" lineWrap="BREAK"/>'
            f'<hh:autoSpacing eAsianEng="0" eAsianNum="0"/>'
            f'<hh:margin><hc:intent value="0" unit="HWPUNIT"/><hc:left value="{left}" unit="HWPUNIT"/>'
            f'<hc:right value="0" unit="HWPUNIT"/><hc:prev value="{prev}" unit="HWPUNIT"/>'
            f'<hc:next value="0" unit="HWPUNIT"/></hh:margin>'
            f'<hh:lineSpacing type="PERCENT" value="160" unit="HWPUNIT"/>'
            f'<hh:border borderFillIDRef="1" offsetLeft="0" offsetRight="0" offsetTop="0" offsetBottom="0" '
            f'connect="0" ignoreMargin="0"/></hh:paraPr>'
        )

    para_prs = (
        para_pr(0, "JUSTIFY", 0, 0) + para_pr(1, "LEFT", 0, 1200) + para_pr(2, "LEFT", 2000, 0)
    )
    border_fills = (
        '<hh:borderFill id="1" threeD="0" shadow="0" centerLine="NONE" breakCellSeparateLine="0">'
        '<hh:slash type="NONE" Crooked="0" isCounter="0"/><hh:backSlash type="NONE" Crooked="0" isCounter="0"/>'
        '<hh:leftBorder type="NONE" width="0.1 mm" color="#000000"/><hh:rightBorder type="NONE" width="0.1 mm" color="#000000"/>'
        '<hh:topBorder type="NONE" width="0.1 mm" color="#000000"/><hh:bottomBorder type="NONE" width="0.1 mm" color="#000000"/>'
        '<hh:diagonal type="SOLID" width="0.1 mm" color="#000000"/></hh:borderFill>'
        '<hh:borderFill id="2" threeD="0" shadow="0" centerLine="NONE" breakCellSeparateLine="0">'
        '<hh:slash type="NONE" Crooked="0" isCounter="0"/><hh:backSlash type="NONE" Crooked="0" isCounter="0"/>'
        '<hh:leftBorder type="SOLID" width="0.12 mm" color="#000000"/><hh:rightBorder type="SOLID" width="0.12 mm" color="#000000"/>'
        '<hh:topBorder type="SOLID" width="0.12 mm" color="#000000"/><hh:bottomBorder type="SOLID" width="0.12 mm" color="#000000"/>'
        '<hh:diagonal type="SOLID" width="0.1 mm" color="#000000"/></hh:borderFill>'
    )
    styles = (
        '<hh:style id="0" type="PARA" name="바탕글" engName="Normal" paraPrIDRef="0" charPrIDRef="0" nextStyleIDRef="0" langID="1042" lockForm="0"/>'
        '<hh:style id="1" type="PARA" name="개요 1" engName="Outline 1" paraPrIDRef="1" charPrIDRef="2" nextStyleIDRef="0" langID="1042" lockForm="0"/>'
        '<hh:style id="2" type="PARA" name="개요 2" engName="Outline 2" paraPrIDRef="1" charPrIDRef="3" nextStyleIDRef="0" langID="1042" lockForm="0"/>'
    )
    return (
        f'{XML_DECL}<hh:head {XMLNS} version="1.4" secCnt="1">'
        '<hh:beginNum page="1" footnote="1" endnote="1" pic="1" tbl="1" equation="1"/>'
        f'<hh:refList><hh:fontfaces itemCnt="7">{fontfaces}</hh:fontfaces>'
        f'<hh:borderFills itemCnt="2">{border_fills}</hh:borderFills>'
        f'<hh:charProperties itemCnt="{len(CHAR_PRS)}">{char_prs}</hh:charProperties>'
        '<hh:tabProperties itemCnt="1"><hh:tabPr id="0" autoTabLeft="0" autoTabRight="0"/></hh:tabProperties>'
        f'<hh:paraProperties itemCnt="3">{para_prs}</hh:paraProperties>'
        f'<hh:styles itemCnt="3">{styles}</hh:styles></hh:refList>'
        '<hh:compatibleDocument targetProgram="HWP201X"><hh:layoutCompatibility/></hh:compatibleDocument>'
        '<hh:docOption><hh:linkinfo path="" pageInherit="0" footnoteInherit="0"/></hh:docOption>'
        '<hh:trackchageConfig flags="0"/></hh:head>'
    )


class _Ids:
    def __init__(self):
        self.n = 1000

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _hwpx_para(ids: _Ids, text: str, char_pr=0, para_pr=0, style=0, extra_run="") -> str:
    t = f"<hp:t>{_xml_escape(text)}</hp:t>" if text else "<hp:t/>"
    return (
        f'<hp:p id="{ids()}" paraPrIDRef="{para_pr}" styleIDRef="{style}" pageBreak="0" columnBreak="0" merged="0">'
        f'{extra_run}<hp:run charPrIDRef="{char_pr}">{t}</hp:run></hp:p>'
    )


def _hwpx_table(ids: _Ids, rows: list) -> str:
    ncols = max(len(r) for r in rows)
    total_w, row_h = 42520, 1800
    col_w = total_w // ncols
    trs = []
    for r, row in enumerate(rows):
        tcs = []
        for c in range(ncols):
            text = row[c] if c < len(row) else ""
            cell_p = _hwpx_para(ids, text, char_pr=3 if r == 0 else 4)
            tcs.append(
                f'<hp:tc name="" header="{1 if r == 0 else 0}" hasMargin="0" protect="0" editable="0" dirty="0" borderFillIDRef="2">'
                f'<hp:subList id="" textDirection="HORIZONTAL" lineWrap="BREAK" vertAlign="CENTER" linkListIDRef="0" '
                f'linkListNextIDRef="0" textWidth="0" textHeight="0" hasTextRef="0" hasNumRef="0">{cell_p}</hp:subList>'
                f'<hp:cellAddr colAddr="{c}" rowAddr="{r}"/><hp:cellSpan colSpan="1" rowSpan="1"/>'
                f'<hp:cellSz width="{col_w}" height="{row_h}"/>'
                f'<hp:cellMargin left="510" right="510" top="141" bottom="141"/></hp:tc>'
            )
        trs.append(f"<hp:tr>{''.join(tcs)}</hp:tr>")
    tbl = (
        f'<hp:tbl id="{ids()}" zOrder="0" numberingType="TABLE" textWrap="TOP_AND_BOTTOM" textFlow="BOTH_SIDES" '
        f'lock="0" dropcapstyle="None" pageBreak="CELL" repeatHeader="1" rowCnt="{len(rows)}" colCnt="{ncols}" '
        f'cellSpacing="0" borderFillIDRef="2" noAdjust="0">'
        f'<hp:sz width="{col_w * ncols}" widthRelTo="ABSOLUTE" height="{row_h * len(rows)}" heightRelTo="ABSOLUTE" protect="0"/>'
        '<hp:pos treatAsChar="1" affectLSpacing="0" flowWithText="1" allowOverlap="0" holdAnchorAndSO="0" '
        'vertRelTo="PARA" horzRelTo="COLUMN" vertAlign="TOP" horzAlign="LEFT" vertOffset="0" horzOffset="0"/>'
        '<hp:outMargin left="283" right="283" top="283" bottom="283"/>'
        '<hp:inMargin left="510" right="510" top="141" bottom="141"/>'
        f"{''.join(trs)}</hp:tbl>"
    )
    return (
        f'<hp:p id="{ids()}" paraPrIDRef="0" styleIDRef="0" pageBreak="0" columnBreak="0" merged="0">'
        f'<hp:run charPrIDRef="0">{tbl}<hp:t/></hp:run></hp:p>'
    )


_SEC_PR = (
    '<hp:run charPrIDRef="0"><hp:secPr id="" textDirection="HORIZONTAL" spaceColumns="1134" tabStop="8000" '
    'tabStopVal="4000" tabStopUnit="HWPUNIT" outlineShapeIDRef="1" memoShapeIDRef="0" textVerticalWidthHead="0" '
    'masterPageCnt="0"><hp:grid lineGrid="0" charGrid="0" wonggojiFormat="0"/>'
    '<hp:startNum pageStartsOn="BOTH" page="0" pic="0" tbl="0" equation="0"/>'
    '<hp:visibility hideFirstHeader="0" hideFirstFooter="0" hideFirstMasterPage="0" border="SHOW_ALL" '
    'fill="SHOW_ALL" hideFirstPageNum="0" hideFirstEmptyLine="0" showLineNumber="0"/>'
    '<hp:pagePr landscape="WIDELY" width="59528" height="84186" gutterType="LEFT_ONLY">'
    '<hp:margin header="4252" footer="4252" gutter="0" left="8504" right="8504" top="5668" bottom="4252"/>'
    '</hp:pagePr></hp:secPr><hp:ctrl><hp:colPr id="" type="NEWSPAPER" layout="LEFT" colCount="1" '
    'sameSz="1" sameGap="0"/></hp:ctrl></hp:run>'
)


def _hwpx_section(src: Source) -> str:
    ids = _Ids()
    paras = []
    first = True
    for b in src.blocks:
        extra = _SEC_PR if first else ""
        if b.kind == "table":
            if first:
                paras.append(_hwpx_para(ids, "", extra_run=extra))
            paras.append(_hwpx_table(ids, b.rows))
        elif b.kind == "heading":
            cp = {1: 1, 2: 2}.get(b.level, 3)
            paras.append(
                _hwpx_para(
                    ids,
                    b.text,
                    char_pr=cp,
                    para_pr=1,
                    style=1 if b.level <= 2 else 2,
                    extra_run=extra,
                )
            )
        elif b.kind == "bullet":
            paras.append(
                _hwpx_para(ids, ("- " if b.level else "○ ") + b.text, para_pr=2, extra_run=extra)
            )
        elif b.kind == "number":
            paras.append(_hwpx_para(ids, f"{b.level}. {b.text}", para_pr=2, extra_run=extra))
        else:
            paras.append(_hwpx_para(ids, b.text, extra_run=extra))
        first = False
    return f"{XML_DECL}<hs:sec {XMLNS}>{''.join(paras)}</hs:sec>"


def _hwpx_content_hpf(meta: dict) -> str:
    e = _xml_escape
    return (
        f'{XML_DECL}<opf:package {XMLNS} version="" unique-identifier="" id="">'
        f"<opf:metadata><opf:title>{e(meta['title'])}</opf:title><opf:language>{e(meta['language'])}</opf:language>"
        '<opf:meta name="creator" content="text">City of Hanbit, International Exchange Division (fictional)</opf:meta>'
        f'<opf:meta name="subject" content="text">{e(meta.get("kind", ""))}</opf:meta>'
        f'<opf:meta name="description" content="text">visibility={e(meta.get("visibility", ""))}</opf:meta>'
        f'<opf:meta name="CreatedDate" content="text">{e(str(meta.get("date", "")))}T00:00:00Z</opf:meta>'
        f'<opf:meta name="ModifiedDate" content="text">{FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")}</opf:meta>'
        "</opf:metadata><opf:manifest>"
        '<opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>'
        '<opf:item id="section0" href="Contents/section0.xml" media-type="application/xml"/>'
        '<opf:item id="settings" href="settings.xml" media-type="application/xml"/>'
        '</opf:manifest><opf:spine><opf:itemref idref="header" linear="yes"/>'
        '<opf:itemref idref="section0" linear="yes"/></opf:spine></opf:package>'
    )


def build_hwpx(src: Source) -> None:
    files = [
        ("mimetype", "application/hwp+zip"),
        (
            "version.xml",
            f'{XML_DECL}<hv:HCFVersion xmlns:hv="http://www.hancom.co.kr/hwpml/2011/version" '
            'tagetApplication="WORDPROCESSOR" major="5" minor="1" micro="1" buildNumber="0" os="1" '
            'xmlVersion="1.4" application="Hancom Office Hangul" appVersion="12, 0, 0, 0 WIN32LEWindows_10"/>',
        ),
        ("Contents/header.xml", _hwpx_header(src.meta)),
        ("Contents/section0.xml", _hwpx_section(src)),
        (
            "settings.xml",
            f'{XML_DECL}<ha:HWPApplicationSetting xmlns:ha="{NS["ha"]}" xmlns:config="{NS["config"]}">'
            '<ha:CaretPosition listIDRef="0" paraIDRef="0" pos="0"/></ha:HWPApplicationSetting>',
        ),
        (
            "META-INF/container.xml",
            f'{XML_DECL}<ocf:container xmlns:ocf="urn:oasis:names:tc:opendocument:xmlns:container" '
            f'xmlns:hpf="{NS["hpf"]}"><ocf:rootfiles>'
            '<ocf:rootfile full-path="Contents/content.hpf" media-type="application/hwpml-package+xml"/>'
            "</ocf:rootfiles></ocf:container>",
        ),
        (
            "META-INF/manifest.xml",
            f'{XML_DECL}<odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        ),
        ("Contents/content.hpf", _hwpx_content_hpf(src.meta)),
    ]
    stamp = FIXED_TIME.timetuple()[:6]
    with zipfile.ZipFile(src.out_path, "w") as zf:
        for i, (name, data) in enumerate(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            # The mimetype entry must come first and be stored uncompressed.
            info.compress_type = zipfile.ZIP_STORED if i == 0 else zipfile.ZIP_DEFLATED
            zf.writestr(info, data.encode("utf-8"))


# --------------------------------------------------------------------------- HWP

# hwp-converter-ai writes an HWP 5.0 file by copying the example document it ships
# (hwp_template.hwp, saved by Hangul) and replacing its body text and styles. Every other stream
# of that example stays: its preview text and thumbnail, its summary (title "제목입니다.", the
# saver's account name), a linked-document path and three pictures, one of them a photograph.
# None of that belongs to our documents, so build_hwp overwrites each of those streams in place
# (OLE streams keep their size: shorter data is padded with zeros) with our own or blank content.
_BLANK_IMAGES = {
    # 1 x 1 white pixels, made once with Pillow; constants keep rebuilds byte-identical
    "jpg": "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjL/wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AL+AD//Z",
    "png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4//8/AAX+Av4zEpUUAAAAAElFTkSuQmCC",
    "gif": "R0lGODdhAQABAIEAAP///wAAAAAAAAAAACwAAAAAAQABAAAIBAABBAQAOw==",
}
# Hancom's own property set id for \x05HwpSummaryInformation (not Microsoft's SummaryInformation)
_HWP_SUMMARY_FMTID = bytes.fromhex("60b6a29f6110d411b4c6006097c09d8c")
_VT_LPWSTR, _VT_FILETIME = 0x1F, 0x40
_HWP_AUTHOR = "한빛시 국제교류과(가상)"


def _hwp_markdown(src: Source) -> str:
    """Render the parsed blocks as the Markdown subset hwp-converter-ai reads."""
    out = []
    for b in src.blocks:
        if b.kind == "heading":
            out.append("#" * min(b.level, 3) + " " + b.text)
        elif b.kind == "bullet":
            out.append("- " + b.text)
        elif b.kind == "number":
            out.append(f"{b.level}. {b.text}")
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            rows = [r + [""] * (ncols - len(r)) for r in b.rows]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * ncols]
            lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
            out.append("\n".join(lines))
        else:
            out.append(b.text)
    return "\n\n".join(out) + "\n"


def _filetime(moment: _dt.datetime) -> int:
    """100-nanosecond ticks since 1601-01-01 UTC, as OLE property sets store times."""
    epoch = _dt.datetime(1601, 1, 1, tzinfo=_dt.UTC)
    return int((moment - epoch).total_seconds()) * 10_000_000


def _hwp_summary(meta: dict) -> bytes:
    """An OLE property set (MS-OLEPS) with the document's own title, subject and dates."""
    created = _dt.datetime.fromisoformat(str(meta["date"])).replace(tzinfo=_dt.UTC)
    props: list[tuple[int, int, object]] = [
        (2, _VT_LPWSTR, meta["title"]),
        (3, _VT_LPWSTR, meta.get("kind", "")),
        (4, _VT_LPWSTR, _HWP_AUTHOR),
        (6, _VT_LPWSTR, f"visibility={meta.get('visibility', '')}"),
        (12, _VT_FILETIME, _filetime(created)),
        (13, _VT_FILETIME, _filetime(FIXED_TIME)),
    ]
    values = []
    for _pid, vt, value in props:
        if vt == _VT_LPWSTR:
            text = str(value).encode("utf-16-le") + b"\x00\x00"
            data = struct.pack("<HHI", vt, 0, len(text) // 2) + text
        else:
            data = struct.pack("<HHQ", vt, 0, value)
        values.append(data + b"\x00" * (-len(data) % 4))
    offset = 8 + 8 * len(props)
    index = b""
    for (pid, _vt, _value), data in zip(props, values, strict=True):
        index += struct.pack("<II", pid, offset)
        offset += len(data)
    section = struct.pack("<II", offset, len(props)) + index + b"".join(values)
    # byte order, version, system id and class id as Hangul writes them; then one property set
    header = struct.pack("<HHI", 0xFFFE, 0, 0x00020105) + _HWP_SUMMARY_FMTID + struct.pack("<I", 1)
    return header + _HWP_SUMMARY_FMTID + struct.pack("<I", len(header) + 20) + section


def _hwp_preview_text(src: Source) -> str:
    # Hangul's own preview: lines joined by CR LF, a table's cells each in <angle brackets>
    lines = []
    for b in src.blocks:
        if b.kind == "table":
            lines.extend("".join(f"<{c}>" for c in row) for row in b.rows)
        elif b.kind == "bullet":
            lines.append("- " + b.text)
        elif b.kind == "number":
            lines.append(f"{b.level}. {b.text}")
        else:
            lines.append(b.text)
    return "\r\n".join(lines)


def _fit(data: bytes, size: int, name: str) -> bytes:
    if len(data) > size:
        raise BuildError(f"HWP stream {name}: {len(data)} bytes do not fit in {size}")
    return data + b"\x00" * (size - len(data))


def build_hwp(src: Source) -> None:
    try:
        import olefile
        from hwp_converter_ai import HwpWriter
    except ImportError:
        raise BuildError(
            "hwp-converter-ai is not installed: pip install hwp-converter-ai"
        ) from None
    HwpWriter().from_markdown(_hwp_markdown(src), src.out_path)
    with olefile.OleFileIO(str(src.out_path), write_mode=True) as ole:
        for entry in ole.listdir():
            name = "/".join(entry)
            size = ole.get_size(name)
            if name == "PrvText":
                # a preview holds the first part of the text only: cut, whole UTF-16 units
                text = _hwp_preview_text(src).encode("utf-16-le")[: size - 2]
                ole.write_stream(name, _fit(text[: len(text) // 2 * 2], size, name))
            elif name == "PrvImage":
                ole.write_stream(name, _fit(base64.b64decode(_BLANK_IMAGES["gif"]), size, name))
            elif name == "\x05HwpSummaryInformation":
                ole.write_stream(name, _fit(_hwp_summary(src.meta), size, name))
            elif name == "DocOptions/_LinkDoc":
                ole.write_stream(name, b"\x00" * size)
            elif entry[0] == "BinData":
                ext = name.rsplit(".", 1)[-1].lower()
                if ext not in _BLANK_IMAGES:
                    raise BuildError(f"HWP template has an unexpected picture {name}")
                # pictures are stored raw-deflated; the stream ends itself, so zeros may follow
                packer = zlib.compressobj(9, zlib.DEFLATED, -15)
                packed = packer.compress(base64.b64decode(_BLANK_IMAGES[ext])) + packer.flush()
                ole.write_stream(name, _fit(packed, size, name))


# --------------------------------------------------------------------------- verification


def extract_text(path: Path, fmt: str) -> str:
    if fmt == "pdf":
        from pypdf import PdfReader

        return "\n".join((page.extract_text() or "") for page in PdfReader(str(path)).pages)
    if fmt == "docx":
        import docx

        d = docx.Document(str(path))
        parts = [p.text for p in d.paragraphs]
        for t in d.tables:
            for row in t.rows:
                parts.extend(c.text for c in row.cells)
        return "\n".join(parts)
    if fmt in ("hwpx", "hwp"):
        from hwp_hwpx_parser import Reader

        with Reader(str(path)) as r:
            return r.text
    raise BuildError(f"unknown format {fmt}")


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s)


def verify(src: Source) -> str:
    try:
        text = extract_text(src.out_path, src.fmt)
    except ImportError as exc:
        raise BuildError(
            f"cannot verify {src.out_path.name}: {exc} (pip install pypdf python-docx hwp-hwpx-parser)"
        ) from None
    hay = _norm(text)
    missing = [ln for ln in plain_lines(src) if ln and _norm(ln) not in hay]
    if missing:
        raise BuildError(
            f"{src.out_path.relative_to(ROOT)}: {len(missing)} source line(s) not found in extracted text, "
            f"e.g. {missing[0][:80]!r}"
        )
    side = src.out_path.with_name(src.out_path.name + ".meta.yaml")
    if not side.is_file():
        raise BuildError(f"missing sidecar {side.relative_to(ROOT)}")
    return text


# --------------------------------------------------------------------------- main

BUILDERS = {"pdf": build_pdf, "docx": build_docx, "hwpx": build_hwpx, "hwp": build_hwp}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-verify", action="store_true", help="skip reading the outputs back")
    ap.add_argument("--check", action="store_true", help="only verify existing outputs")
    args = ap.parse_args(argv)
    try:
        sources = load_sources()
        for src in sources:
            rel = src.out_path.relative_to(ROOT)
            if not args.check:
                src.out_path.parent.mkdir(parents=True, exist_ok=True)
                BUILDERS[src.fmt](src)
                write_sidecar(src)
            if not args.no_verify:
                text = verify(src)
                print(
                    f"ok  {rel}  ({src.out_path.stat().st_size:,} bytes, {len(text):,} chars read back)"
                )
            else:
                print(f"built {rel}")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

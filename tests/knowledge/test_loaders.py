"""Loaders: every format yields text, headings and metadata; bad files fail with a reason."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from bot.domain import Visibility
from bot.knowledge.loaders import LoadError, is_supported, load
from bot.nlp import Analyzer
from tests.conftest import KNOWLEDGE, write


def _samples(suffix: str) -> list[Path]:
    return sorted(p for p in KNOWLEDGE.rglob(f"*{suffix}") if is_supported(p))


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html", ".pdf", ".docx", ".hwpx", ".hwp"])
def test_every_sample_format_loads_with_text_and_sidecar_metadata(suffix: str) -> None:
    files = _samples(suffix)
    assert files, f"the sample knowledge base has no {suffix} file"
    for path in files:
        doc = load(path, path.name, Visibility.INTERNAL)
        assert len(doc.text) > 200, path
        assert doc.meta.title, path
        if path.with_name(path.name + ".meta.yaml").exists() or path.read_bytes().startswith(
            b"---"
        ):
            assert doc.meta.language in {"ko", "en", "de", "vi"}, path


def test_korean_pdf_text_is_not_mojibake() -> None:
    korean = [
        p
        for p in _samples(".pdf")
        if "language: ko" in p.with_name(p.name + ".meta.yaml").read_text("utf-8")
    ]
    assert korean, "need a Korean PDF sample"
    text = load(korean[0], "x.pdf", Visibility.INTERNAL).text
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    assert hangul > 100


def test_markdown_front_matter_sets_metadata_and_headings_form_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.md",
        "---\ntitle: 협정서\nkind: agreement\npartner: Düsseldorf\nvisibility: partner\nlanguage: ko\n---\n"
        "# 협정서\n\n## 제3조(비용)\n\n여비는 파견 도시가 부담한다.\n\n### 세부\n\n숙박비는 접수 도시가 부담한다.\n",
    )
    doc = load(path, "a.md", Visibility.INTERNAL)
    assert doc.meta.visibility is Visibility.PARTNER
    assert doc.meta.partner == "Düsseldorf"
    assert [s.heading for s in doc.sections] == [
        ("협정서", "제3조(비용)"),
        ("협정서", "제3조(비용)", "세부"),
    ]


def test_file_without_metadata_takes_the_default_visibility(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.txt", "Just a note about the budget of the office for 2026.\n")
    assert load(path, "plain.txt", Visibility.PUBLIC).meta.visibility is Visibility.PUBLIC
    assert load(path, "plain.txt", Visibility.INTERNAL).meta.visibility is Visibility.INTERNAL


def test_saved_web_page_drops_menus_footer_and_scripts(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>공지사항 | 한빛시청</title>
    <script>var tracking = "SECRET_SCRIPT";</script><style>.x{}</style></head><body>
    <header><ul class="gnb"><li>시정소식</li><li>MENU_ITEM_ONE</li></ul></header>
    <div class="breadcrumb">홈 &gt; 소식 &gt; BREADCRUMB_TEXT</div>
    <div id="contents"><h2>홈스테이 가정 모집</h2><p>모집 인원은 20가정입니다.</p>
    <table><tr><th>항목</th><th>금액</th></tr><tr><td>지원금</td><td>30만 원</td></tr></table></div>
    <aside class="sidebar">SIDEBAR_LINKS</aside>
    <div class="cookie-banner">COOKIE_TEXT</div>
    <div class="satisfaction"><p>SURVEY_TEXT 만족하십니까?</p><label>매우 만족</label></div>
    <footer><ul><li><a href="/privacy">FOOTER_LINK</a></li></ul>
    <address>(61950) 한빛시 중앙로 100 | 대표전화 062-410-2114</address>
    <p class="copyright">Copyright FOOTER_TEXT 한빛시</p></footer></body></html>"""
    doc = load(write(tmp_path / "page.html", html), "page.html", Visibility.PUBLIC)
    text = doc.text
    assert "모집 인원은 20가정입니다." in text
    assert "지원금 | 30만 원" in text
    for junk in (
        "SECRET_SCRIPT",
        "MENU_ITEM_ONE",
        "BREADCRUMB_TEXT",
        "SIDEBAR_LINKS",
        "COOKIE_TEXT",
        "FOOTER_TEXT",
        "FOOTER_LINK",
        "SURVEY_TEXT",
    ):
        assert junk not in text
    assert doc.meta.title == "공지사항"
    assert doc.sections[0].heading == ("홈스테이 가정 모집",)
    # the footer's contact lines are the page's last section, under the site's name
    assert doc.sections[-1].heading == ("한빛시청",)
    assert doc.sections[-1].text == "(61950) 한빛시 중앙로 100 | 대표전화 062-410-2114"


def test_docx_headings_and_tables_are_kept(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Budget 2026", level=1)
    document.add_paragraph("The office plans its spending as follows.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Line", "Amount"
    table.cell(1, 0).text, table.cell(1, 1).text = "Interpretation", "KRW 42,000,000"
    path = tmp_path / "b.docx"
    document.save(str(path))
    doc = load(path, "b.docx", Visibility.INTERNAL)
    assert doc.sections[0].heading == ("Budget 2026",)
    assert "Interpretation | KRW 42,000,000" in doc.text


def test_cp949_text_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("한빛시 국제교류 예산 안내".encode("cp949"))
    assert "국제교류" in load(path, "old.txt", Visibility.INTERNAL).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "DOCX"),
        ("broken.hwpx", b"PK\x03\x04 not really a zip", "HWP"),
        ("broken.hwp", b"\xd0\xcf\x11\xe0 not an ole file", "HWP"),
        ("empty.md", b"", "no text"),
    ],
)
def test_corrupt_files_raise_a_load_error_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load(path, name, Visibility.INTERNAL)
    assert reason.lower() in str(info.value).lower() or "no text" in str(info.value)


def test_malformed_front_matter_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x.md", "---\ntitle: [unclosed\n---\nbody text here\n")
    with pytest.raises(LoadError, match="front matter"):
        load(path, "x.md", Visibility.INTERNAL)


def test_unknown_visibility_in_metadata_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x.md", "---\nvisibility: secret\n---\nbody text here\n")
    with pytest.raises(LoadError, match="visibility"):
        load(path, "x.md", Visibility.INTERNAL)


def test_hwpx_zip_without_sections_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.hwpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/hwp+zip")
    with pytest.raises(LoadError):
        load(path, "empty.hwpx", Visibility.INTERNAL)


def test_sidecars_and_hidden_files_are_not_documents() -> None:
    assert not is_supported(Path("a.pdf.meta.yaml"))
    assert not is_supported(Path(".hidden.md"))
    assert not is_supported(Path("data.jsonl"))
    assert is_supported(Path("보고서.HWP"))


# --- titles of documents without metadata: the text's own name for itself, not the file name


def _shown(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj"


def _pdf(lines: list[str | tuple[str, ...]]) -> bytes:
    """Return a one-page PDF showing the lines in Helvetica, with no Info dictionary; a tuple
    is a table row, its cells 150 points apart."""

    def shown(line: str | tuple[str, ...]) -> str:
        if isinstance(line, str):
            return _shown(line)
        return " 150 0 Td ".join(map(_shown, line)) + f" {-150 * (len(line) - 1)} 0 Td"

    text = " 0 -20 Td ".join(map(shown, lines))
    content = f"BT /F1 12 Tf 72 780 Td {text} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _sentences(analyzer: Analyzer, path: Path) -> list[str]:
    """Return the sentences of a file that has one section."""
    (section,) = load(path, path.name, Visibility.PUBLIC).sections
    return analyzer.split_sentences(section.text)


def _docx(path: Path, heading: str | None, paragraphs: list[str]) -> Path:
    document = docx.Document()  # python-docx's template has an empty core title
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def test_markdown_without_a_title_is_named_by_its_first_heading_else_its_first_line(
    tmp_path: Path,
) -> None:
    headed = write(
        tmp_path / "notes-2026.md",
        "---\nvisibility: public\n---\nDraft, do not circulate.\n\n# 통역 예약 안내\n\n"
        "## 1. 예약\n\n3일 전까지 예약한다.\n",
    )
    assert load(headed, "notes-2026.md", Visibility.PUBLIC).meta.title == "통역 예약 안내"
    flat = write(
        tmp_path / "memo_1.md", "Room 301 is booked for the Riverton call.\n\nBring tea.\n"
    )
    assert load(flat, "memo_1.md", Visibility.PUBLIC).meta.title == (
        "Room 301 is booked for the Riverton call."
    )


def test_plain_text_is_named_by_its_first_line_not_by_a_numbered_heading(tmp_path: Path) -> None:
    path = write(
        tmp_path / "jichim.txt",
        "\n\n국제교류 예산 집행 지침\n\n제1조(목적)\n이 지침은 예산 집행 절차를 정한다.\n",
    )
    doc = load(path, "jichim.txt", Visibility.INTERNAL)
    # the title line heads the document's sections (its words go with every passage)
    assert doc.sections[-1].heading == ("국제교류 예산 집행 지침", "제1조(목적)")
    assert doc.meta.title == "국제교류 예산 집행 지침"


@pytest.mark.parametrize("suffix", [".txt", ".pdf"])
def test_a_flat_formats_title_line_is_no_passage_of_its_own(tmp_path: Path, suffix: str) -> None:
    lines = ["Youth exchange programme 2026", "1. Overview", "Hanbit sends 16 pupils abroad."]
    if suffix == ".pdf":
        path = tmp_path / "youth.pdf"
        path.write_bytes(_pdf(lines))
    else:
        path = write(tmp_path / "youth.txt", "\n".join(lines[:1] + ["=" * 30] + lines[1:]) + "\n")
    doc = load(path, path.name, Visibility.PUBLIC)
    assert [s.text for s in doc.sections] == ["Hanbit sends 16 pupils abroad."]
    assert doc.sections[0].heading == ("Youth exchange programme 2026", "1. Overview")


def test_a_first_line_that_is_a_sentence_or_a_letterhead_stays_text(tmp_path: Path) -> None:
    said = "Room 301 is booked for the Riverton call.\n1. Tea\nBring tea.\n"
    doc = load(write(tmp_path / "memo.txt", said), "memo.txt", Visibility.PUBLIC)
    assert doc.sections[0].text == "Room 301 is booked for the Riverton call."
    letterhead = "한 빛 시\n수신: 수신자 참조\n1. 관련\n본문입니다.\n"
    doc = load(write(tmp_path / "letter.txt", letterhead), "letter.txt", Visibility.PUBLIC)
    assert doc.sections[0].heading == () and doc.sections[0].text.startswith("한 빛 시")


def test_numbered_list_items_under_numbered_headings_are_not_headings(tmp_path: Path) -> None:
    # the shape of a Korean manual exported to text, PDF or HWP: "5. 선발 절차" and its items
    text = "\n".join(
        [
            "2026 청소년 국제교류 사업 안내",
            "1. 사업 개요",
            "1. 목적: 자매도시 청소년 교류",
            "2. 참가 자격",
            "1. 시에 주소를 둔 중·고등학생으로서 추천을 받은 학생은 누구나 지원할 수 있습니다.",
            "2. 보호자의 동의를 받은 학생",
            "3. 과거 교류 프로그램으로 파견된 적이 없는 사람",
            "3. 파견 규모 및 일정",
            "1. 규모: 20명",
            "4. 비용 부담",
            "1. 항공료: 50% 본인 부담",
            "2. 보험료: 시 부담",
            "3. 숙박: 상대 도시 부담",
            "4. 여권 발급비는 참가자가 부담합니다.",
            "5. 선발 절차",
            "1. 신청 기간: 2026. 3. 3.(화) ~ 3. 20.(금)",
            "2. 면접: 4월 둘째 주",
            "5.1 세부 일정",
            "최종 발표는 4월 24일입니다.",
            "6. 문의",
            "국제교류과 02-000-0000",
        ]
    )
    doc = load(write(tmp_path / "youth.txt", text + "\n"), "youth.txt", Visibility.INTERNAL)
    headings = [s.heading[-1] for s in doc.sections if s.heading]
    assert headings == [
        "1. 사업 개요",
        "2. 참가 자격",
        "3. 파견 규모 및 일정",
        "4. 비용 부담",
        "5. 선발 절차",
        "5.1 세부 일정",
        "6. 문의",
    ]
    selection = next(s for s in doc.sections if s.heading[-1] == "5. 선발 절차")
    assert "1. 신청 기간: 2026. 3. 3.(화) ~ 3. 20.(금)" in selection.text
    assert doc.meta.title == "2026 청소년 국제교류 사업 안내"


def test_another_kind_of_heading_starts_the_numbering_again(tmp_path: Path) -> None:
    text = "교류 규정\nI. 총칙\n1. 목적\n본문\n2. 정의\n본문\nII. 교류\n1. 대상\n본문\n"
    doc = load(write(tmp_path / "rules.txt", text), "rules.txt", Visibility.INTERNAL)
    headings = [s.heading[-1] for s in doc.sections if s.heading]
    assert headings == ["1. 목적", "2. 정의", "1. 대상"]


def test_a_web_page_without_a_title_tag_is_named_by_its_first_heading(tmp_path: Path) -> None:
    html = "<html><body><p>Skip to content</p><main><h1>Homestay families wanted</h1>"
    html += "<p>We need 20 families.</p></main></body></html>"
    doc = load(write(tmp_path / "page-3.html", html), "page-3.html", Visibility.PUBLIC)
    assert doc.meta.title == "Homestay families wanted"


def test_docx_without_a_core_title_is_named_by_its_heading_else_its_first_paragraph(
    tmp_path: Path,
) -> None:
    headed = _docx(tmp_path / "a.docx", "Protocol for delegations", ["Flags are raised at 9."])
    assert load(headed, "a.docx", Visibility.PUBLIC).meta.title == "Protocol for delegations"
    flat = _docx(tmp_path / "b.docx", None, ["Seating plan for the May dinner", "Table 1: mayor"])
    assert load(flat, "b.docx", Visibility.PUBLIC).meta.title == "Seating plan for the May dinner"


def test_pdf_without_an_info_title_is_named_by_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "scan_0042.pdf"
    path.write_bytes(
        _pdf(["Overseas travel rules 2026", "Article 1 Scope", "These rules apply to all staff."])
    )
    doc = load(path, "scan_0042.pdf", Visibility.INTERNAL)
    assert "Article 1 Scope" in [h for s in doc.sections for h in s.heading]
    assert doc.meta.title == "Overseas travel rules 2026"


@pytest.mark.parametrize(
    ("name", "first_line"),
    [
        (
            "manuals/youth-exchange-programme.hwpx",
            "2026년 한빛시 청소년 국제교류 프로그램 운영 안내",
        ),
        (
            "proceedings/tsurugaoka-library-exchange-meeting-2026.hwp",
            "공공도서관 도서 교환 및 그림책 낭독회 실무협의 결과보고",
        ),
    ],
)
def test_hwp_and_hwpx_without_a_sidecar_are_named_by_their_first_line(
    tmp_path: Path, name: str, first_line: str
) -> None:
    path = tmp_path / Path(name).name
    path.write_bytes((KNOWLEDGE / name).read_bytes())  # the document without its sidecar
    doc = load(path, path.name, Visibility.PUBLIC)
    assert doc.meta.title == first_line
    # not the first numbered heading ("1. 사업 개요"); the first line heads the sections instead
    # of being a passage (a title alone) of its own
    assert all(s.heading[0] == first_line for s in doc.sections)
    assert first_line not in [s.text for s in doc.sections]


def test_a_first_line_used_as_title_is_cut_at_a_word(tmp_path: Path) -> None:
    sentence = "The delegation from Bien Hoa arrives on Monday and " * 5
    doc = load(write(tmp_path / "x.txt", sentence + "\n"), "x.txt", Visibility.PUBLIC)
    assert doc.meta.title.endswith("…") and len(doc.meta.title) <= 121
    assert sentence.startswith(doc.meta.title[:-1])


def test_a_plain_text_table_that_opens_a_section_keeps_its_columns(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    # the header is the section's first line: with its indent stripped, every column was cut
    # two places early ("구분 … 정: 국외 출장; 산 기한 … 제: …")
    path = write(
        tmp_path / "jichim.txt",
        "국제교류 예산 집행 지침\n\n4. 정산 기한\n\n"
        "  구분                      정산 기한               제출 서류\n"
        "  ------------------------  ----------------------  ----------------------------\n"
        "  국외 출장                 귀국 후 10일 이내       출장 결과보고서, 영수증\n"
        "  공동사업 분담금(외화)     송금 후 7일 이내        송금 확인서, 상대 도시 수령증\n",
    )
    assert _sentences(analyzer, path) == [
        "구분: 국외 출장; 정산 기한: 귀국 후 10일 이내; 제출 서류: 출장 결과보고서, 영수증 / "
        "구분: 공동사업 분담금(외화); 정산 기한: 송금 후 7일 이내; "
        "제출 서류: 송금 확인서, 상대 도시 수령증"
    ]


def test_a_web_pages_labelled_fields_keep_their_labels(tmp_path: Path, analyzer: Analyzer) -> None:
    # a notice's fields as a definition list and as a table whose rows are labelled by their own
    # header cells: each label stays with its value (they were cut into lone words, and the
    # table's first row was read as a header for the others)
    html = """<html><body><div id="contents"><h3>홈스테이 가정 모집 공고</h3>
    <dl><dt>공고번호</dt><dd>한빛시 공고 제2026-812호</dd><dt>담당부서</dt><dd>국제교류과</dd></dl>
    <table><tr><th>등록일</th><td>2026-04-27</td><th>조회수</th><td>1,284</td></tr>
    <tr><th>문의</th><td>국제교류과</td><td>031-8000-3214</td></tr></table>
    <table><tr><th>항목</th><th>금액</th></tr><tr><th>지원금</th><td>30만 원</td></tr></table>
    </div></body></html>"""
    doc = load(write(tmp_path / "notice.html", html), "notice.html", Visibility.PUBLIC)
    assert analyzer.split_sentences(doc.sections[0].text) == [
        "공고번호: 한빛시 공고 제2026-812호",
        "담당부서: 국제교류과",
        "등록일: 2026-04-27",
        "조회수: 1,284",
        "문의: 국제교류과, 031-8000-3214",
        "항목: 지원금; 금액: 30만 원",  # a header row: the columns' names, as before
    ]


def test_docx_list_items_without_full_stops_are_sentences_of_their_own(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    # each paragraph was one line of a single paragraph: "… interpretation Organisers: …"
    document = docx.Document()
    document.add_heading("1. Event information", level=1)
    for text in ("Format: online, English–Korean interpretation", "Attendance: 56 participants"):
        document.add_paragraph(text, style="List Bullet")
    document.add_paragraph("The recording is kept until 10 December 2025.")
    path = tmp_path / "webinar.docx"
    document.save(str(path))
    assert _sentences(analyzer, path) == [
        "Format: online, English–Korean interpretation",
        "Attendance: 56 participants",
        "The recording is kept until 10 December 2025.",
    ]


def test_a_pdfs_labelled_lines_are_not_joined_as_wrapped_text(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    # PDF lines are joined to undo wrapping; a field's label starts a line of its own
    lines = ["Forum programme", "Talk 1: Digital resident services in", "Dusseldorf"]
    lines += ["Speaker: Sabine Kuhn (digital officer)", "Question: Do residents object?"]
    lines += ["Answer (Sabine", "Kuhn): Privacy first."]
    path = tmp_path / "forum.pdf"
    path.write_bytes(_pdf(lines))
    assert _sentences(analyzer, path) == [
        "Talk 1: Digital resident services in Dusseldorf",
        "Speaker: Sabine Kuhn (digital officer)",
        "Question: Do residents object?",
        "Answer (Sabine Kuhn): Privacy first.",  # a wrapped line closing a bracket is no field
    ]


def test_a_pdf_tables_columns_are_read_as_header_value_pairs(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    # the plain extraction gave each row as one run of words under a header that said nothing
    rows = [("City", "Grade 5 and below", "Grade 4 and above")]
    rows += [("Dusseldorf", "USD 190", "USD 240"), ("Riverton", "USD 210", "USD 260")]
    path = tmp_path / "travel.pdf"
    lines: list[str | tuple[str, ...]] = ["Travel rules", "4. Hotel ceilings per night", *rows]
    path.write_bytes(_pdf([*lines, "A city that hosts the traveller pays no hotel."]))
    (section,) = load(path, path.name, Visibility.INTERNAL).sections
    assert section.heading == ("Travel rules", "4. Hotel ceilings per night")
    assert analyzer.split_sentences(section.text) == [
        "City: Dusseldorf; Grade 5 and below: USD 190; Grade 4 and above: USD 240 / "
        "City: Riverton; Grade 5 and below: USD 210; Grade 4 and above: USD 260",
        "A city that hosts the traveller pays no hotel.",
    ]

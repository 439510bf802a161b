"""Loaders: every format yields text, headings and metadata; bad files fail with a reason."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from bot.domain import Visibility
from bot.knowledge.loaders import LoadError, is_supported, load
from tests.conftest import KNOWLEDGE, write


def _samples(suffix: str) -> list[Path]:
    return sorted(p for p in KNOWLEDGE.rglob(f"*{suffix}") if is_supported(p))


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html", ".pdf", ".docx", ".hwpx"])
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
    <footer>Copyright FOOTER_TEXT 한빛시</footer></body></html>"""
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
    ):
        assert junk not in text
    assert doc.meta.title == "공지사항"
    assert doc.sections[0].heading == ("홈스테이 가정 모집",)


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

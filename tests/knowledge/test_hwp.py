"""HWP 5.0: a file saved by Hangul itself reaches the chunks.

The Hangul-saved file is the example document hwp-converter-ai (a test dependency) ships as its
writer's template: its records are as Hancom's word processor writes them, not as a library that
writes HWP guesses them. Nothing is downloaded: it is read from the installed package.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import olefile
import pytest

from bot.domain import Chunk, Visibility
from bot.knowledge.chunking import chunk_document
from bot.knowledge.loaders import load
from bot.nlp import Analyzer


@pytest.fixture(scope="module")
def hangul_file() -> Iterator[Path]:
    """Return the path of hwp-converter-ai's example document, saved by Hangul."""
    with resources.as_file(resources.files("hwp_converter_ai") / "hwp_template.hwp") as path:
        yield path


def _hwp_version(path: Path) -> tuple[int, int, int, int]:
    """Return the format version in an HWP file's FileHeader stream (5.0.x.x for HWP 5.0)."""
    with olefile.OleFileIO(str(path)) as ole:
        header = ole.openstream("FileHeader").read()
    assert header.startswith(b"HWP Document File"), path
    (version,) = struct.unpack_from("<I", header, 32)
    return version >> 24, (version >> 16) & 0xFF, (version >> 8) & 0xFF, version & 0xFF


def _chunks(path: Path, analyzer: Analyzer) -> list[Chunk]:
    doc = load(path, path.name, Visibility.INTERNAL)
    return chunk_document(doc.meta, doc.sections, analyzer)


def test_a_file_saved_by_hangul_gives_its_body_tables_and_first_lines_to_the_chunks(
    hangul_file: Path, analyzer: Analyzer
) -> None:
    assert _hwp_version(hangul_file)[:2] == (5, 0)
    chunks = _chunks(hangul_file, analyzer)
    text = "\n".join(c.text for c in chunks)
    # the opening lines: a title-like first paragraph, then one reading "this is the header"
    # (a paragraph of the body: the file has no page-header control)
    assert "한글 2005 예제 파일입니다." in text
    assert "머리말입니다" in text
    assert "본문 내용입니다." in text
    assert "레코드 구조에 대해서 설명한다." in text  # the last body paragraph, after the tables
    # table cells, row by row as the DOCX and HTML loaders give them; a two-paragraph cell whole
    assert "A0 | B0" in text
    assert "A1 | B10 B11" in text
    assert "table2" in text
    assert "2x2짜리표" in text and "가나다" in text  # a cell's text around an auto-number
    # no Markdown table rule, no placeholder for the two pictures
    assert "---" not in text
    assert "[IMAGE]" not in text


def test_a_file_saved_by_hangul_without_metadata_is_named_by_its_first_line(
    hangul_file: Path,
) -> None:
    doc = load(hangul_file, "hwp_template.hwp", Visibility.PUBLIC)
    assert doc.meta.title == "한글 2005 예제 파일입니다."

"""HWP 5.0: a file saved by Hangul itself and the sample's own .hwp documents reach the chunks.

The Hangul-saved file is the example document hwp-converter-ai (a test dependency) ships as its
writer's template: its records are as Hancom's word processor writes them, not as a library that
writes HWP guesses them. Nothing is downloaded: it is read from the installed package.
"""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
import zlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import ModuleType

import olefile
import pytest

from bot.domain import Chunk, Visibility
from bot.knowledge.chunking import chunk_document
from bot.knowledge.loaders import _hwp_lines, load, sections_from_lines
from bot.nlp import Analyzer
from tests.conftest import KNOWLEDGE, ROOT


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


def _reading(chunks: list[Chunk]) -> str:
    """Return the chunks' headings and sentences in order, each heading and overlap once."""
    parts: list[str] = []
    previous: Chunk | None = None
    for chunk in chunks:
        sentences = list(chunk.sentences)
        if previous is None or previous.heading != chunk.heading:
            parts.append(chunk.heading)
        elif sentences[:1] == [previous.sentences[-1]]:
            # a chunk repeats the last sentence of the one before it in the same section
            sentences = sentences[1:]
        parts += sentences
        previous = chunk
    return " ".join(parts)


def _squash(text: str) -> str:
    # sentence splitting and table rows change spacing, never the characters
    return re.sub(r"\s+", "", text)


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
    # table cells, row by row as "header: value" pairs (bot.nlp); a two-paragraph cell whole
    assert "A0: A1; B0: B10 B11" in text
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


def _builder() -> ModuleType:
    """Import scripts/build_sample_docs.py, which knows each sample's source lines."""
    name = "build_sample_docs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it is executed
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_sample_hwp_documents_are_hwp_5_and_every_source_line_reaches_the_chunks(
    analyzer: Analyzer,
) -> None:
    builder = _builder()
    sources = [s for s in builder.load_sources() if s.fmt == "hwp"]
    assert len(sources) >= 2, "the sample knowledge base should have at least two .hwp files"
    for src in sources:
        path = src.out_path
        assert _hwp_version(path)[:2] == (5, 0), path
        doc = load(path, path.name, Visibility.PUBLIC)
        assert doc.meta.title == src.meta["title"], path  # from the sidecar
        assert doc.meta.visibility.value == src.meta["visibility"], path
        chunks = chunk_document(doc.meta, doc.sections, analyzer)
        # (a title line heads the passages: its words are the document's title, not a passage)
        found = _squash(doc.meta.title + _reading(chunks))
        # a table row reaches the chunks as "header: value" pairs: each of its cells is there
        missing = [
            line
            for line in builder.plain_lines(src)
            if not all(_squash(cell) in found for cell in line.split("|"))
        ]
        assert not missing, (path, missing[:3])


def _inflated(data: bytes) -> bytes:
    try:
        return zlib.decompressobj(-15).decompress(data)
    except zlib.error:
        return data


def test_the_sample_hwp_files_carry_nothing_of_the_example_file_they_were_written_over() -> None:
    paths = sorted(KNOWLEDGE.rglob("*.hwp"))
    assert paths
    for path in paths:
        title = path.with_name(path.name + ".meta.yaml").read_text("utf-8")
        with olefile.OleFileIO(str(path)) as ole:
            preview = ole.openstream("PrvText").read().decode("utf-16-le")
            assert "예제 파일" not in preview, path
            summary = ole.getproperties("\x05HwpSummaryInformation")
            # olefile reads past a string's end: the title is what comes before the first NUL
            assert f"title: {str(summary[2]).split(chr(0))[0]}" in title, path
            for entry in ole.listdir():
                data = _inflated(ole.openstream(entry).read())
                # the example's saver's account name ("mete0r"), in its summary and in a path
                assert b"ete0r" not in data and "ete0r".encode("utf-16-le") not in data, entry
                if entry[0] == "BinData":
                    # a blank pixel, not the example's photograph (15 KB) or icons (1 KB)
                    assert len(data) < 400, (path, entry)


def test_a_hwp_paragraph_without_a_full_stop_does_not_run_on(analyzer: Analyzer) -> None:
    # each HWP paragraph is a line of the parser's text: the letterhead's sign-off and the
    # office's address ran on into one sentence with the fields around them
    text = "한빛시장\n수신자: 국제교류과장\n시행: 자원순환과-2517 (2026. 4. 20.)\n우 61210 한빛시 시청로 100\n"
    (section,) = sections_from_lines(_hwp_lines(text))
    assert analyzer.split_sentences(section.text) == [
        "한빛시장",
        "수신자: 국제교류과장",
        "시행: 자원순환과-2517 (2026. 4. 20.)",
        "우 61210 한빛시 시청로 100",
    ]

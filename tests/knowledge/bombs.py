"""Zip bombs in office clothing, built at run time (a few MB each; never committed).

Each writes its one huge part through zipfile in 1 MB blocks, so building a 1.2 GB part never
holds more than a block in memory.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

GB = 1024**3
BLOCK = 1024 * 1024

_DOCX_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_DOCX_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_HWPX_NS = (
    b'xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section" '
    b'xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph"'
)


def _stream(
    archive: zipfile.ZipFile, name: str, head: bytes, unit: bytes, size: int, tail: bytes
) -> None:
    """Write a part of `size` bytes: head, `unit` repeated, tail, one block at a time."""
    block = unit * (BLOCK // len(unit))
    with archive.open(name, "w", force_zip64=True) as part:
        part.write(head)
        for _ in range(max(1, size // len(block))):
            part.write(block)
        part.write(tail)


def docx_bomb(path: Path, unit: bytes = b"<w:p/>", size: int = int(1.2 * GB)) -> Path:
    """Write a .docx whose document.xml is `size` bytes of `unit` (empty paragraphs, spaces)."""
    # level 1: a few MB instead of ~1.5 at level 9, in half the time
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _DOCX_TYPES)
        archive.writestr("_rels/.rels", _DOCX_RELS)
        head = b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W + b"><w:body>"
        _stream(archive, "word/document.xml", head, unit, size, b"</w:body></w:document>")
    return path


def hwpx_bomb(path: Path, size: int = int(1.2 * GB)) -> Path:
    """Write an .hwpx whose section0.xml is `size` bytes of paragraph elements."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), b"application/hwp+zip", compress_type=zipfile.ZIP_STORED
        )
        head = b'<?xml version="1.0" encoding="UTF-8"?><hs:sec ' + _HWPX_NS + b">"
        unit = b"<hp:p><hp:run><hp:t>a</hp:t></hp:run></hp:p>"
        _stream(archive, "Contents/section0.xml", head, unit, size, b"</hs:sec>")
    return path

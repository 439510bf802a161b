"""Bounded parsing: zip containers are inspected before they are read, and reading runs in a
worker process whose memory and time limits turn a runaway into a LoadError."""

from __future__ import annotations

import os
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Visibility
from bot.knowledge.limits import MB, ParseLimits, ParseWorker, inspect
from bot.knowledge.loaders import LoadError
from tests.conftest import KNOWLEDGE
from tests.knowledge.bombs import docx_bomb

SAMPLES = [
    KNOWLEDGE / "agreements" / "tsurugaoka-friendship-agreement.docx",
    KNOWLEDGE / "manuals" / "youth-exchange-programme.hwpx",
]
# the inspection out of the way, to show what the worker's own limits do
NO_INSPECTION = {"max_unpacked_mb": 10**6, "max_compression_ratio": 10.0**6}
INTERNAL = Visibility.INTERNAL


@pytest.fixture
def worker() -> Iterator[ParseWorker]:
    found = ParseWorker(ParseLimits(memory_mb=512, **NO_INSPECTION))  # type: ignore[arg-type]
    yield found
    found.close()


def refusal(path: Path, **limits: float) -> str:
    with pytest.raises(LoadError) as caught:
        inspect(path, ParseLimits(**limits))  # type: ignore[arg-type]
    return str(caught.value)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.suffix)
def test_the_sample_office_files_pass_inspection(sample: Path) -> None:
    inspect(sample, ParseLimits())


def test_a_container_of_too_many_parts_is_refused_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "many.docx"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(11):
            archive.writestr(f"word/part{i}.xml", "<x/>")
    assert "11 parts" in refusal(path, max_zip_members=10)
    assert "MAX_ZIP_MEMBERS" in refusal(path, max_zip_members=10)
    inspect(path, ParseLimits(max_zip_members=11))


def test_a_container_unpacking_too_far_is_refused_naming_the_setting(tmp_path: Path) -> None:
    bomb = docx_bomb(tmp_path / "small-bomb.docx", size=3 * MB)
    reason = refusal(bomb, max_unpacked_mb=2)
    assert "unpacks to 3 MB" in reason and "MAX_UNPACKED_MB" in reason


def test_a_part_compressed_too_well_is_refused_naming_the_setting(tmp_path: Path) -> None:
    bomb = docx_bomb(tmp_path / "small-bomb.docx", size=3 * MB)
    reason = refusal(bomb, max_unpacked_mb=10)
    assert "word/document.xml" in reason and "MAX_COMPRESSION_RATIO" in reason
    inspect(bomb, ParseLimits(max_compression_ratio=10**6))


def test_a_small_part_may_compress_well(tmp_path: Path) -> None:
    path = tmp_path / "styles.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/styles.xml", b"<w:style/>" * 50_000)  # 500 KB at ~500:1
    inspect(path, ParseLimits())


def test_a_corrupt_container_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.hwpx"
    path.write_bytes(b"PK\x03\x04 not really")
    assert "corrupt HWPX" in refusal(path)


@pytest.mark.parametrize("name", ["paragraphs", "spaces", "hwpx"])
def test_the_bombs_are_refused_before_they_are_read(bombs: dict[str, Path], name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(LoadError, match="MAX_UNPACKED_MB"):
        ParseWorker().load(bombs[name], bombs[name].name, INTERNAL)
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("name", ["paragraphs", "spaces", "hwpx"])
def test_a_bomb_past_the_inspection_hits_the_workers_memory_limit(
    bombs: dict[str, Path], name: str, worker: ParseWorker
) -> None:
    with pytest.raises(LoadError, match="more than 512 MB .setting PARSE_MEMORY_MB"):
        worker.load(bombs[name], bombs[name].name, INTERNAL)
    # the worker that ran out is replaced, and the next file is read
    doc = worker.load(SAMPLES[0], SAMPLES[0].name, INTERNAL)
    assert doc.sections and worker.starts == 2


def test_one_worker_reads_file_after_file(worker: ParseWorker) -> None:
    for sample in SAMPLES * 2:
        assert worker.load(sample, sample.name, INTERNAL).sections
    assert worker.starts == 1


def test_a_file_that_never_finishes_hits_the_time_limit(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck.txt"
    os.mkfifo(stuck)  # reading a pipe nobody writes to blocks for ever
    worker = ParseWorker(ParseLimits(timeout_s=3))
    try:
        started = time.perf_counter()
        with pytest.raises(LoadError, match="longer than 3 s .setting PARSE_TIMEOUT_S"):
            worker.load(stuck, stuck.name, INTERNAL)
        assert time.perf_counter() - started < 15
        assert worker.load(SAMPLES[1], SAMPLES[1].name, INTERNAL).sections
        assert worker.starts == 2
    finally:
        worker.close()


def test_a_worker_killed_mid_file_is_a_load_error_and_replaced(
    tmp_path: Path, worker: ParseWorker
) -> None:
    stuck = tmp_path / "stuck.txt"
    os.mkfifo(stuck)
    failures: list[str] = []

    def read() -> None:
        try:
            worker.load(stuck, stuck.name, INTERNAL)
        except LoadError as exc:
            failures.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 30
    while worker._child is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # let the child reach the pipe
    assert worker._child is not None
    worker._child.kill()  # as the kernel's OOM killer would
    reader.join(30)
    assert failures and "signal 9" in failures[0] and "PARSE_MEMORY_MB" in failures[0]
    assert worker.load(SAMPLES[0], SAMPLES[0].name, INTERNAL).sections


def test_ingest_reports_a_refused_file_with_the_limit_from_the_settings(
    tmp_path: Path, make_services: Any
) -> None:
    bomb = docx_bomb(tmp_path / "minutes.docx", size=3 * MB)
    services = make_services(max_unpacked_mb=2)
    report = services.ingestor.ingest([bomb])
    assert report.added == 0 and report.failed[0][0] == "minutes.docx"
    assert "more than 2 MB (setting MAX_UNPACKED_MB)" in report.failed[0][1]
    assert services.store.documents() == []

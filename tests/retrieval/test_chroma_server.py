"""The same code against a Chroma server (`chroma run`) instead of the embedded store."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.domain import Asker, Role
from tests.conftest import write

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture
def chroma_port(tmp_path: Path) -> Iterator[int]:
    exe = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if exe is None:
        pytest.skip("the chroma CLI is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("chroma run did not start")
            time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


def test_ingest_and_filtered_retrieval_work_against_a_chroma_server(
    tmp_path: Path,
    make_services,
    chroma_port: int,  # type: ignore[no-untyped-def]
) -> None:
    write(
        tmp_path / "kb" / "pub.md",
        "---\nvisibility: public\nlanguage: en\n---\nThe Riverton agreement is reviewed every three years.\n",
    )
    write(
        tmp_path / "kb" / "int.md",
        "---\nvisibility: internal\nlanguage: en\n---\nThe Riverton reserve is 9,900,000 won.\n",
    )
    services = make_services(chroma_host="127.0.0.1", chroma_port=chroma_port)
    report = services.ingestor.ingest([tmp_path / "kb"])
    assert report.added == 2 and not report.failed
    assert not (services.settings.bot_data_dir / "chroma").exists(), "nothing embedded on disk"
    staff = services.retriever.retrieve("Riverton reserve", Asker(Role.STAFF), 5, mode="dense").hits
    public = services.retriever.retrieve(
        "Riverton reserve", Asker(Role.PUBLIC), 5, mode="dense"
    ).hits
    assert {h.chunk.doc.source for h in staff} == {"pub.md", "int.md"}
    assert [h.chunk.doc.source for h in public] == ["pub.md"]

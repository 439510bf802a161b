"""Several processes on one database and one Chroma server: the indexes follow the documents
another process ingested, and a process of another embedding space deletes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.domain import Asker
from bot.services import StoreMismatch, build_services
from tests.conftest import make_settings, write
from tests.retrieval.test_chroma_server import chroma_port  # noqa: F401 (a fixture)

EN = "---\ntitle: Tram plan\nvisibility: public\nlanguage: en\n---\n# Trams\n\nThe Riverton tram network opens its third line in 2027.\n"
KO = "---\ntitle: 통역 안내\nvisibility: public\nlanguage: ko\n---\n# 통역\n\n통역사 일일 사례비는 45만 원이다.\n"


def _sources(services, question: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.chunk.doc.source for h in services.retriever.retrieve(question, Asker(), 5).hits]


def test_a_document_ingested_by_one_process_is_found_by_another_at_once(
    tmp_path: Path,
    make_services,
    database_url: str,
    chroma_port: int,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    shared = {"database_url": database_url, "chroma_host": "127.0.0.1", "chroma_port": chroma_port}
    # the second process starts first, on an empty database: an empty keyword index beside the
    # vectors the other one is about to write (once an IndexError in every question)
    reader = make_services(tmp_path / "reader", **shared)
    writer = make_services(tmp_path / "writer", **shared)
    reader.retriever.follower.interval_s = 0.0  # (the real one looks at most once a second)
    assert reader.retriever.retrieve("tram network", Asker(), 5).hits == []
    write(tmp_path / "kb" / "tram.md", EN)
    writer.ingestor.ingest([tmp_path / "kb"])
    assert _sources(reader, "When does the tram network open its third line?") == ["tram.md"]
    assert reader.retriever.keywords.version == writer.store.version()

    # a language the reader had no collection of: opened when the version moves
    write(tmp_path / "kb" / "interp.md", KO)
    writer.ingestor.ingest([tmp_path / "kb"])
    assert "ko" not in reader.retriever.vectors.languages
    assert _sources(reader, "통역사 사례비는 얼마인가?")[0] == "interp.md"
    assert "ko" in reader.retriever.vectors.languages

    # a removed document leaves the reader's keyword index too
    (tmp_path / "kb" / "tram.md").unlink()
    writer.ingestor.ingest([tmp_path / "kb"])
    assert "tram.md" not in _sources(reader, "When does the tram network open its third line?")


def test_the_follower_looks_at_the_database_at_most_once_per_interval(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import statements

    services = make_services()
    follower = services.retriever.follower
    follower.interval_s = 60.0
    follower.check()
    with statements(services.db.engine) as sent:
        for _ in range(20):
            follower.check()
    assert sent == []


def test_a_process_of_another_embedding_centering_refuses_and_deletes_nothing(
    tmp_path: Path,
    make_services,
    embedder,
    analyzer,
    chroma_port: int,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    shared = {"database_url": url, "chroma_host": "127.0.0.1", "chroma_port": chroma_port}
    first = make_services(tmp_path / "one", **shared)
    write(tmp_path / "kb" / "tram.md", EN)
    first.ingestor.ingest([tmp_path / "kb"])
    held = first.retriever.vectors.count()
    assert held > 0

    with pytest.raises(StoreMismatch) as refused:
        make_services(tmp_path / "two", embedding_centering=0.5, **shared)
    message = str(refused.value)
    assert "EMBEDDING_CENTERING=1" in message and "EMBEDDING_CENTERING=0.5" in message
    assert "nothing was deleted" in message and "exchange-bot reembed" in message
    assert first.retriever.vectors.count() == held
    assert _sources(first, "When does the tram network open its third line?") == ["tram.md"]

    # only the explicit re-embed changes the space of a shared store
    settings = make_settings(tmp_path / "three", embedding_centering=0.5, **shared)
    again = build_services(settings, embedder=embedder, analyzer=analyzer, reembed=True)
    try:
        assert again.retriever.vectors.count() == held
        assert _sources(again, "When does the tram network open its third line?") == ["tram.md"]
    finally:
        again.close()
    with pytest.raises(StoreMismatch):
        make_services(tmp_path / "four", **shared)


def test_a_process_on_an_empty_database_leaves_a_shared_stores_vectors_alone(
    tmp_path: Path,
    make_services,
    chroma_port: int,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:  # type: ignore[no-untyped-def]
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_port}
    first = make_services(
        tmp_path / "one", database_url=f"sqlite:///{tmp_path}/one.sqlite3", **server
    )
    write(tmp_path / "kb" / "tram.md", EN)
    first.ingestor.ingest([tmp_path / "kb"])
    held = first.retriever.vectors.count()
    with caplog.at_level(logging.WARNING):
        make_services(tmp_path / "two", database_url=f"sqlite:///{tmp_path}/two.sqlite3", **server)
    assert first.retriever.vectors.count() == held
    assert "this database does not have: left alone" in caplog.text

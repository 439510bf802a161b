"""The retriever's chunk reads are cached by chunk id, and never serve a chunk past the version
check that saw another process change its document (real database, both backends; real
services, real embedder)."""

from __future__ import annotations

from pathlib import Path

from bot.domain import Visibility
from bot.knowledge.store import ChunkCache, KnowledgeStore
from tests.conftest import statements, write

TRAM = (
    "---\ntitle: Tram plan\nvisibility: {visibility}\nlanguage: en\n---\n# {heading}\n\n"
    "The Riverton tram network opens its third line in 2027.\n"
)


def _ingest(services, root: Path, visibility: str = "public", heading: str = "Trams") -> None:  # type: ignore[no-untyped-def]
    write(root / "tram.md", TRAM.format(visibility=visibility, heading=heading))
    report = services.ingestor.ingest([root])
    assert not report.failed, report.failed


def test_a_chunk_changed_or_removed_by_another_process_is_not_served_after_the_check(
    tmp_path: Path, make_services, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    reader = make_services(tmp_path / "reader", database_url=database_url)
    writer = make_services(tmp_path / "writer", database_url=database_url)
    kb = tmp_path / "kb"
    _ingest(writer, kb)
    ids = writer.store.chunk_ids("tram.md")
    assert ids
    cached = reader.retriever.store
    follower = reader.retriever.follower
    follower.interval_s = 0.0  # (the real one looks at most once a second)
    follower.check()
    assert {c.doc.visibility for c in cached.chunks(ids).values()} == {Visibility.PUBLIC}
    with statements(reader.db.engine) as sent:
        again = cached.chunks(ids)
    assert sent == [], "read from the cache"
    assert set(again) == set(ids)

    # the same text (the same chunk ids) made internal, under another heading, by the writer
    _ingest(writer, kb, visibility="internal", heading="Tram lines")
    assert writer.store.chunk_ids("tram.md") == ids
    follower.check()
    changed = cached.chunks(ids)
    assert {c.doc.visibility for c in changed.values()} == {Visibility.INTERNAL}
    assert {c.heading for c in changed.values()} == {"Tram lines"}
    assert changed == writer.store.chunks(ids)

    # removed by the writer: gone for the reader after its check
    (kb / "tram.md").unlink()
    writer.ingestor.ingest([kb])
    assert writer.store.chunks(ids) == {}
    follower.check()
    assert cached.chunks(ids) == {}


def test_a_change_made_by_this_process_is_seen_at_once(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    services = make_services()
    kb = tmp_path / "kb"
    _ingest(services, kb)
    ids = services.store.chunk_ids("tram.md")
    cached = services.retriever.store
    services.retriever.follower.interval_s = 3600.0  # no version check in between
    services.retriever.follower.check()
    assert {c.heading for c in cached.chunks(ids).values()} == {"Trams"}
    _ingest(services, kb, heading="Tram lines")  # through the plain store: forgets the cache
    assert {c.heading for c in cached.chunks(ids).values()} == {"Tram lines"}
    (kb / "tram.md").unlink()
    services.ingestor.ingest([kb])
    assert cached.chunks(ids) == {}


def test_a_read_begun_before_the_version_moved_is_not_kept(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    services = make_services()
    _ingest(services, tmp_path / "kb")
    ids = services.store.chunk_ids("tram.md")
    old = services.store.chunks(ids)
    cache = ChunkCache()
    cache.observe(1)
    held, missing, generation = cache.get(ids)
    assert held == {} and missing == ids
    cache.observe(2)  # another process's change, noticed while the read was under way
    cache.fill(old, generation)
    assert cache.get(ids)[0] == {}, "what was read before the change is not kept"
    held, missing, generation = cache.get(ids)
    cache.fill(old, generation)
    assert cache.get(ids)[0] == old
    cache.invalidate()
    assert cache.get(ids)[0] == {}
    cache.fill(old, cache.get(ids)[2])
    assert cache.get(ids)[0] == {}, "nothing kept until a version is read again"


def test_the_cache_keeps_the_most_recently_read_chunks_up_to_its_size(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    services = make_services()
    _ingest(services, tmp_path / "kb")
    write(
        tmp_path / "kb" / "bus.md",
        "---\ntitle: Bus plan\nvisibility: public\nlanguage: en\n---\n# Buses\n\n"
        "Line 7 runs every ten minutes.\n",
    )
    services.ingestor.ingest([tmp_path / "kb"])
    tram, bus = services.store.chunk_ids("tram.md"), services.store.chunk_ids("bus.md")
    view = KnowledgeStore(services.db, ChunkCache(size=len(tram))).with_read_cache()
    view.version()
    view.chunks(tram)
    view.chunks(bus)  # tram's are the least recently read: dropped
    with statements(services.db.engine) as sent:
        assert set(view.chunks(bus)) == set(bus)
    assert sent == []
    with statements(services.db.engine) as sent:
        assert set(view.chunks(tram)) == set(tram)
    assert len(sent) == 1


def test_a_documents_chunk_ids_nearest_an_ordinal(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    services = make_services()
    corpus = tmp_path / "kb"
    write(
        corpus / "long.md",
        "---\ntitle: Long\nvisibility: public\nlanguage: en\n---\n"
        + "".join(f"# Part {i}\n\nPart {i} says {i}.\n\n" for i in range(12)),
    )
    services.ingestor.ingest([corpus])
    chunks = services.store.chunks(services.store.chunk_ids("long.md"))
    by_ordinal = {c.ordinal: c.id for c in chunks.values()}
    assert len(by_ordinal) >= 6, by_ordinal
    middle = sorted(by_ordinal)[len(by_ordinal) // 2]
    near = services.store.chunk_ids("long.md", around=(middle, 3))
    assert near == [by_ordinal[middle], by_ordinal[middle - 1], by_ordinal[middle + 1]]

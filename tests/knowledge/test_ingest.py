"""Incremental ingest against the real Chroma, BM25 and e5 on a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.domain import Asker, Visibility
from tests.conftest import write

DOC_A = "---\ntitle: Youth exchange rules\nvisibility: public\nlanguage: en\n---\n# Costs\n\nTravel costs of the youth exchange are borne by the sending city.\n"
DOC_B = "---\ntitle: 통역 안내\nvisibility: internal\nlanguage: ko\n---\n# 통역\n\n통역사 일일 사례비는 45만 원이다.\n"


def _both(tmp_path: Path) -> Path:
    """Write DOC_A (English, public) and DOC_B (Korean, internal) into a corpus folder."""
    corpus = tmp_path / "kb"
    write(corpus / "a.md", DOC_A)
    write(corpus / "b.md", DOC_B)
    return corpus


def _ids(services, question: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        h.chunk.doc.source for h in services.retriever.retrieve(question, Asker.staff(), 5).hits
    ]


def test_second_run_skips_unchanged_files(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    corpus = _both(tmp_path)
    services = make_services()
    first = services.ingestor.ingest([corpus])
    assert (first.added, first.chunks, first.failed) == (2, 2, [])
    second = services.ingestor.ingest([corpus])
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, 2, 0)


def test_changed_file_replaces_its_chunks_in_both_indexes(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    path = write(corpus / "a.md", DOC_A)
    services = make_services()
    services.ingestor.ingest([corpus])
    old_ids = services.store.chunk_ids("a.md")
    path.write_text(DOC_A.replace("sending city", "host city of Riverton"), "utf-8")
    report = services.ingestor.ingest([corpus])
    assert report.updated == 1
    new_ids = services.store.chunk_ids("a.md")
    assert set(old_ids).isdisjoint(new_ids)
    assert services.retriever.vectors.ids() == set(new_ids)
    hits = services.retriever.retrieve("Riverton host city", Asker.staff(), 5, mode="sparse").hits
    assert hits and "Riverton" in hits[0].chunk.text
    assert not services.retriever.retrieve("sending", Asker.staff(), 5, mode="sparse").hits


def test_deleted_file_is_removed_from_store_and_indexes(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    write(corpus / "a.md", DOC_A)
    gone = write(corpus / "b.md", DOC_B)
    services = make_services()
    services.ingestor.ingest([corpus])
    gone.unlink()
    report = services.ingestor.ingest([corpus])
    assert report.removed == 1
    assert [d.source for d in services.store.documents()] == ["a.md"]
    assert services.retriever.vectors.ids() == set(services.store.chunk_ids())
    assert "b.md" not in _ids(services, "통역사 사례비")


def test_a_broken_file_is_reported_and_the_rest_is_ingested(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    write(corpus / "a.md", DOC_A)
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (corpus / "notes.jsonl").write_text("{}", "utf-8")  # not a document format: ignored, not failed
    services = make_services()
    report = services.ingestor.ingest([corpus, tmp_path / "missing-folder"])
    assert report.added == 1
    failed = dict(report.failed)
    assert "bad.pdf" in failed and "PDF" in failed["bad.pdf"]
    assert "no such file" in failed[str(tmp_path / "missing-folder")]
    assert "Failed 2" in report.summary().replace("failed", "Failed")


def test_default_visibility_applies_only_to_files_without_metadata(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    write(corpus / "a.md", DOC_A)  # says public
    write(
        corpus / "plain.txt",
        "Riverton delegation visits in May; the budget line is 12 million won.\n",
    )
    services = make_services()
    services.ingestor.ingest([corpus], default_visibility=Visibility.PARTNER)
    vis = {d.source: d.visibility for d in services.store.documents()}
    assert vis == {"a.md": Visibility.PUBLIC, "plain.txt": Visibility.PARTNER}


def test_metadata_change_in_front_matter_reingests_with_new_visibility(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    path = write(corpus / "a.md", DOC_A)
    services = make_services()
    services.ingestor.ingest([corpus])
    path.write_text(DOC_A.replace("visibility: public", "visibility: internal"), "utf-8")
    services.ingestor.ingest([corpus])
    public = Asker()
    assert not services.retriever.retrieve("youth exchange travel costs", public, 5).hits


def test_store_survives_a_restart(tmp_path: Path, make_services) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    write(corpus / "b.md", DOC_B)
    data = tmp_path / "persist"
    make_services(data).ingestor.ingest([corpus])
    again = make_services(data)
    assert _ids(again, "통역사 사례비") == ["b.md"]
    assert again.ingestor.ingest([corpus]).unchanged == 1


def test_a_changed_file_re_embeds_only_the_chunks_whose_text_changed(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    body = "---\ntitle: Manual\nvisibility: public\nlanguage: en\n---\n# One\n\nFirst rule of the office.\n\n# Two\n\nSecond rule of the office.\n"
    path = write(corpus / "m.md", body)
    services = make_services()
    assert services.ingestor.ingest([corpus]).embedded == 2
    path.write_text(body.replace("Second rule", "Second, revised rule"), "utf-8")
    assert services.ingestor.ingest([corpus]).embedded == 1
    path.write_text(
        body.replace("Second rule", "Second, revised rule").replace("public", "internal"), "utf-8"
    )
    report = services.ingestor.ingest([corpus])
    assert (report.updated, report.embedded) == (1, 0), "a metadata change keeps the vectors"
    assert len(services.retriever.vectors.ids()) == 2
    assert not services.retriever.retrieve("first rule of the office", Asker(), 5).hits
    assert services.retriever.retrieve("first rule of the office", Asker.staff(), 5).hits


def test_vectors_of_another_embedding_space_are_re_embedded_from_the_database(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = _both(tmp_path)
    data = tmp_path / "persist"
    plain = make_services(data, embedding_centering=0.0)
    plain.ingestor.ingest([corpus])
    before = plain.retriever.vectors.vectors(plain.store.chunk_ids())
    plain.close()

    centred = make_services(data)  # the default centres vectors: the stored ones no longer fit
    ids = centred.store.chunk_ids()
    after = centred.retriever.vectors.vectors(ids)
    assert sorted(after) == sorted(ids), "every chunk has a vector again, without an ingest run"
    assert all(not np.allclose(before[i], after[i]) for i in ids)
    assert _ids(centred, "Who pays the youth exchange travel costs?")[0] == "a.md"
    assert centred.ingestor.ingest([corpus]).unchanged == 2


def test_a_lost_vector_index_is_rebuilt_and_strays_are_dropped(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = _both(tmp_path)
    services = make_services()
    services.ingestor.ingest([corpus])
    ids = services.store.chunk_ids()
    vectors = services.retriever.vectors
    vectors.delete(ids[:1])
    spare = vectors.vectors(ids[1:]).popitem()[1]
    vectors.upsert(["stray1", "stray2"], [spare, spare[:1]], [{"language": "en"}] * 2)
    assert services.ingestor.repair() == 1
    assert vectors.ids() == set(ids)
    assert services.ingestor.repair() == 0


def test_each_sentence_is_a_unit_and_a_chunk_is_found_by_its_best_one(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "kb"
    # one chunk mixing eight facts; the one asked about is an eighth of it (as one vector for the
    # whole chunk, it scores below the other document: 0.34 against 0.35)
    write(
        corpus / "mixed.md",
        "---\ntitle: Office notes\nvisibility: public\nlanguage: en\n---\n# Notes\n\n"
        "The office moves to the third floor in May. Parking permits are renewed every January. "
        "Staff photos are taken on Fridays. The canteen closes at two. New laptops arrive in "
        "autumn. The fire drill is on the first Monday. The interpreter's daily fee is 450,000 "
        "won. Visitors sign in at the front desk.\n",
    )
    # one chunk all about interpreters, but without the fee
    write(
        corpus / "interpreters.md",
        "---\ntitle: Working with interpreters\nvisibility: public\nlanguage: en\n---\n"
        "# Interpreters\n\nInterpreters need the agenda a week ahead. Interpreters sit behind the "
        "delegation head. Interpreters take a break every hour. Interpreters are booked through "
        "the protocol desk.\n",
    )
    services = make_services()
    services.ingestor.ingest([corpus])
    (mixed,) = services.store.chunk_ids("mixed.md")
    units = services.retriever.vectors.vectors([mixed])[mixed]
    assert units.shape == (8, services.embedder.dim), "one vector per sentence"
    assert services.retriever.vectors.count() == services.store.count_units() == 12
    hits = services.retriever.retrieve(
        "What is the interpreter's daily fee?", Asker(), 2, "dense"
    ).hits
    assert [h.chunk.doc.source for h in hits] == ["mixed.md", "interpreters.md"]
    assert all(":" not in h.chunk.id for h in hits), "units are folded back into their chunks"


def test_a_lost_keyword_index_is_rebuilt_from_the_database_at_start(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    corpus = _both(tmp_path)
    data = tmp_path / "data"
    services = make_services(data)
    services.ingestor.ingest([corpus])
    question = "Who pays the youth exchange travel costs?"
    found = _ids(services, question)
    services.close()
    shutil.rmtree(data / "bm25")  # lost, or a new process whose data dir never had it
    restarted = make_services(data)
    assert restarted.retriever.keywords.count() == restarted.store.count_chunks()
    assert _ids(restarted, question) == found

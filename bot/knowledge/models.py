"""The knowledge tables: ingested documents and their chunks, the source of both indexes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, TZDateTime, utcnow


class DocumentRow(Base):
    """An ingested file: its content hash decides whether a re-ingest touches it."""

    __tablename__ = "documents"

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)
    root: Mapped[str] = mapped_column(String(1024), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64), default="")
    partner: Mapped[str] = mapped_column(String(128), default="")
    date: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    visibility: Mapped[str] = mapped_column(String(16))
    webinar: Mapped[str] = mapped_column(String(64), default="")
    ingested_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class ChunkRow(Base):
    """A chunk with what answering needs, computed once at ingest (sentences, terms)."""

    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(
        ForeignKey("documents.source", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    sentences: Mapped[list[str]] = mapped_column(JSON)
    terms: Mapped[list[str]] = mapped_column(JSON)
    sentence_terms: Mapped[list[list[str]]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8), default="")


class KnowledgeVersionRow(Base):
    """One row: a number raised by every change of the documents, in the same transaction.

    Each process keeps its keyword index (a file in its data dir) at this version: it compares
    the number before a question (at most once a second) and rebuilds from the stored terms when
    another process changed the documents (bot/retrieval/follow.py).
    """

    __tablename__ = "knowledge_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

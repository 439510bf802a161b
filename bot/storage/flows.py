"""Multi-step dialogues (/meet, an upload's visibility, a survey comment) kept in the database.

Each flow has an id that its buttons carry. A person has at most one open flow of a kind: a new
one supersedes the old, so a button from an older message is refused instead of acting on the
newer flow. The state lives in the database, so a restart (or another process) resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, Database, TZDateTime, utcnow


class FlowRow(Base):
    """One dialogue in progress (or finished): whose, what kind, and where it stands."""

    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


@dataclass
class Flow:
    """An open dialogue: its id and its state (a JSON-able dict)."""

    id: int
    state: dict[str, Any]


class FlowStore:
    """Starts, reads, advances and finishes dialogues, one open flow per person and kind."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, user_id: int, kind: str, state: dict[str, Any], supersede: bool = True) -> Flow:
        """Open a new flow, closing the person's earlier one of this kind (unless `supersede` is
        False: work in hand, of which a person may have several)."""
        with self.db.session() as s:
            if supersede:
                s.execute(
                    update(FlowRow)
                    .where(FlowRow.user_id == user_id, FlowRow.kind == kind, FlowRow.open.is_(True))
                    .values(open=False, updated_at=utcnow())
                )
            row = FlowRow(user_id=user_id, kind=kind, state=state)
            s.add(row)
            s.flush()
            return Flow(row.id, dict(state))

    def current(self, user_id: int, kind: str) -> Flow | None:
        """Return the person's open flow of this kind, if any."""
        with self.db.session() as s:
            row = s.scalar(
                select(FlowRow)
                .where(FlowRow.user_id == user_id, FlowRow.kind == kind, FlowRow.open.is_(True))
                .order_by(FlowRow.id.desc())
                .limit(1)
            )
            return Flow(row.id, dict(row.state)) if row else None

    def get(self, flow_id: int, user_id: int, kind: str) -> Flow | None:
        """Return the flow a button names if it is open and this person's, else None."""
        with self.db.session() as s:
            row = s.get(FlowRow, flow_id)
            if row is None or not row.open or row.user_id != user_id or row.kind != kind:
                return None
            return Flow(row.id, dict(row.state))

    def save(self, flow: Flow, expected_step: str | None = None) -> bool:
        """Store the flow's new state; with `expected_step`, only if it still stands there.

        Return whether it was stored: a second press of the same button finds the step moved on.
        """
        with self.db.session() as s:
            stmt = update(FlowRow).where(FlowRow.id == flow.id, FlowRow.open.is_(True))
            if expected_step is not None:
                stmt = stmt.where(FlowRow.state["step"].as_string() == expected_step)
            done = s.execute(stmt.values(state=flow.state, updated_at=utcnow()))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def finish(self, flow_id: int) -> bool:
        """Close a flow; return False if it was already closed (a double tap acts once)."""
        with self.db.session() as s:
            done = s.execute(
                update(FlowRow)
                .where(FlowRow.id == flow_id, FlowRow.open.is_(True))
                .values(open=False, updated_at=utcnow())
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def touch(self, flow_ids: list[int]) -> None:
        """Mark open flows as still in hand (work a live process is doing: see `stale`)."""
        if flow_ids:
            with self.db.session() as s:
                s.execute(
                    update(FlowRow)
                    .where(FlowRow.id.in_(flow_ids), FlowRow.open.is_(True))
                    .values(updated_at=utcnow())
                )

    def stale(self, kind: str, idle: timedelta) -> list[Flow]:
        """Return the open flows of a kind nobody has touched for `idle` (work whose process
        died); whoever `finish`es one first owns what is left of it."""
        with self.db.session() as s:
            rows = s.scalars(
                select(FlowRow)
                .where(
                    FlowRow.kind == kind,
                    FlowRow.open.is_(True),
                    FlowRow.updated_at < utcnow() - idle,
                )
                .order_by(FlowRow.id)
            )
            return [Flow(row.id, dict(row.state)) for row in rows]

    def prune(self, older_than: timedelta) -> int:
        """Forget flows closed (or abandoned) longer than `older_than` ago; return how many."""
        with self.db.session() as s:
            done = s.execute(delete(FlowRow).where(FlowRow.updated_at < utcnow() - older_than))
            return int(done.rowcount)  # type: ignore[attr-defined]

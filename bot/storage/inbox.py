"""The inbox: every update Telegram delivers, stored before Telegram is told it arrived.

An update is written here before the next long poll confirms it (or before the webhook answers
200), and marked done once handled. A process killed mid-burst finds the rest here when it starts
again and handles them then: delivery is at least once (an update handled but not yet marked done
when the process died is handled again).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, Database, TZDateTime, utcnow


class InboxRow(Base):
    """One received update: its body, when it came, when it was handled."""

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True, index=True)


class Inbox:
    """Stores received updates, hands back the unhandled ones, forgets old handled ones."""

    def __init__(self, db: Database, keep: timedelta = timedelta(days=1)) -> None:
        self.db = db
        self.keep = keep

    def store(self, update_id: int, body: dict[str, Any]) -> bool:
        """Store an update; return False if it was stored before (Telegram delivered it again)."""
        try:
            with self.db.session() as s:
                s.add(InboxRow(update_id=update_id, body=body))
        except IntegrityError:
            return False
        return True

    def done(self, update_id: int) -> None:
        """Mark an update handled."""
        with self.db.session() as s:
            s.execute(
                update(InboxRow).where(InboxRow.update_id == update_id).values(done_at=utcnow())
            )

    def pending(self) -> list[dict[str, Any]]:
        """Return the bodies of the updates received but not handled, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(InboxRow.body).where(InboxRow.done_at.is_(None)).order_by(InboxRow.update_id)
            )
            return list(rows)

    def prune(self) -> int:
        """Forget handled updates older than `keep`; return how many."""
        with self.db.session() as s:
            result = s.execute(delete(InboxRow).where(InboxRow.done_at < utcnow() - self.keep))
            return int(result.rowcount)  # type: ignore[attr-defined]

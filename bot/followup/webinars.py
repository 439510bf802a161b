"""Webinars: codes for deep links and QR codes, attendee registration, attached documents."""

from __future__ import annotations

import builtins
import datetime as dt
import io
import logging
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain import Asker, Role, Visibility
from bot.knowledge.ingest import Ingestor, IngestReport, PassageProgress
from bot.knowledge.loaders import SIDECAR_SUFFIX, LoadError
from bot.storage.db import Base, Database, TZDateTime, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

START_PREFIX = "w_"  # the /start payload of a webinar link: w_<code>
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


class WebinarRow(Base):
    """A webinar (or forum) whose attendees get follow-up answers."""

    __tablename__ = "webinars"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class AttendeeRow(Base):
    """One person registered for one webinar through its link."""

    __tablename__ = "webinar_attendees"

    webinar: Mapped[str] = mapped_column(
        ForeignKey("webinars.code", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    registered_at: Mapped[datetime] = mapped_column(TZDateTime)
    joined_at: Mapped[datetime] = mapped_column(TZDateTime)  # last time the link was opened
    # orders a user's registrations even when the clock does not move (tests, same second)
    join_seq: Mapped[int] = mapped_column(Integer, default=0)


_WEBINARS: Any = WebinarRow.__table__
_ATTENDEES: Any = AttendeeRow.__table__
# the webinar a user registered for last, with whether it is closed: checked for every question,
# so built once and run with the user bound
_ATTENDING = (
    select(_WEBINARS.c.code, _WEBINARS.c.closed_at)
    .join(_ATTENDEES, _ATTENDEES.c.webinar == _WEBINARS.c.code)
    .where(_ATTENDEES.c.user_id == bindparam("user_id", type_=BigInteger))
    .order_by(_ATTENDEES.c.join_seq.desc(), _ATTENDEES.c.joined_at.desc())
    .limit(1)
)


class WebinarError(Exception):
    """A webinar that cannot be used; `reason` is an i18n key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Webinar:
    """A webinar as handlers see it."""

    code: str
    title: str
    date: dt.date
    language: str
    created_by: int
    created_at: datetime
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Tell whether follow-up questions are still taken."""
        return self.closed_at is None


@dataclass(frozen=True)
class Attendee:
    """A registered attendee: the id to write to and the language to write in."""

    user_id: int
    language: str
    registered_at: datetime


def _webinar(row: WebinarRow) -> Webinar:
    return Webinar(
        row.code, row.title, row.date, row.language, row.created_by, row.created_at, row.closed_at
    )


def new_code() -> str:
    """Return a short unguessable code (72 random bits) made of deep-link-safe characters."""
    return secrets.token_urlsafe(9)  # 12 characters of [A-Za-z0-9_-]


def code_from_payload(payload: str | None) -> str | None:
    """Return the webinar code of a /start payload `w_<code>`, or None for any other payload."""
    if not payload or not payload.startswith(START_PREFIX):
        return None
    code = payload[len(START_PREFIX) :]
    return code if _CODE.match(code) else None


def deep_link(bot_username: str, code: str) -> str:
    """Return the t.me link that registers whoever opens it for the webinar."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={START_PREFIX}{code}"


def qr_png(link: str) -> bytes:
    """Return a PNG QR code of a link, large enough for a projected slide."""
    import qrcode  # imported here: only staff commands need it

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=12, border=4)
    qr.add_data(link)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


class WebinarService:
    """Creates, lists and closes webinars, registers attendees and attaches documents."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ webinars

    def create(self, title: str, date: dt.date, language: str, created_by: int) -> Webinar:
        """Create a webinar with a fresh code."""
        title = " ".join(title.split())
        if not title:
            raise ValueError("a webinar needs a title")
        with self.db.session() as s:
            code = new_code()
            while s.get(WebinarRow, code) is not None:  # 72 bits: practically never loops
                code = new_code()
            row = WebinarRow(
                code=code,
                title=title[:500],
                date=date,
                language=(language or "en")[:8],
                created_by=created_by,
                created_at=self.clock(),
            )
            s.add(row)
            s.flush()
            log.info("webinar %s created by %s", code, created_by)
            return _webinar(row)

    def get(self, code: str) -> Webinar | None:
        """Return one webinar by code."""
        with self.db.session() as s:
            row = s.get(WebinarRow, code)
            return _webinar(row) if row else None

    def list(self, open_only: bool = False) -> builtins.list[Webinar]:
        """Return webinars, the most recent date first."""
        with self.db.session() as s:
            query = select(WebinarRow).order_by(
                WebinarRow.date.desc(), WebinarRow.created_at.desc()
            )
            if open_only:
                query = query.where(WebinarRow.closed_at.is_(None))
            return [_webinar(r) for r in s.scalars(query)]

    def close(self, code: str) -> Webinar:
        """End the follow-up period (closing twice keeps the first closing time)."""
        with self.db.session() as s:
            row = s.get(WebinarRow, code)
            if row is None:
                raise WebinarError("webinar_unknown")
            if row.closed_at is None:
                row.closed_at = self.clock()
            return _webinar(row)

    # ------------------------------------------------------------------ attendees

    def register(self, user_id: int, code: str, language: str) -> Webinar:
        """Register a user for an open webinar; registering again makes it their current one."""
        now = self.clock()
        with self.db.session() as s:
            webinar = s.get(WebinarRow, code)
            if webinar is None:
                raise WebinarError("webinar_unknown")
            if webinar.closed_at is not None:
                raise WebinarError("webinar_closed")
            last = s.scalar(
                select(func.max(AttendeeRow.join_seq)).where(AttendeeRow.user_id == user_id)
            )
            row = s.get(AttendeeRow, (code, user_id))
            if row is None:
                row = AttendeeRow(webinar=code, user_id=user_id, registered_at=now)
                s.add(row)
            row.language = (language or webinar.language)[:8]
            row.joined_at = now
            row.join_seq = (last or 0) + 1
            return _webinar(webinar)

    def webinar_of(self, user_id: int) -> str | None:
        """Return the code of the webinar the user joined last (open or closed), or None."""
        with self.db.session() as s:
            return s.scalar(
                select(AttendeeRow.webinar)
                .where(AttendeeRow.user_id == user_id)
                .order_by(AttendeeRow.join_seq.desc(), AttendeeRow.joined_at.desc())
                .limit(1)
            )

    def attendee_asker(self, user_id: int) -> tuple[Asker | None, bool]:
        """Return the access identity of a registered attendee and whether their webinar is closed.

        The webinar is the one `webinar_of` names, read with it in one query.
        """
        with self.db.session() as s:
            found = s.connection().execute(_ATTENDING, {"user_id": user_id}).first()
        if found is None:
            return None, False
        code, closed_at = found
        return Asker(Role.ATTENDEE, webinar=code), closed_at is not None

    def attendees(self, code: str) -> builtins.list[Attendee]:
        """Return a webinar's attendees in registration order."""
        with self.db.session() as s:
            rows = s.scalars(
                select(AttendeeRow)
                .where(AttendeeRow.webinar == code)
                .order_by(AttendeeRow.registered_at, AttendeeRow.user_id)
            )
            return [Attendee(r.user_id, r.language, r.registered_at) for r in rows]

    def attendee_counts(self) -> dict[str, int]:
        """Return how many attendees each webinar has, in one query (none: left out)."""
        with self.db.session() as s:
            rows = s.execute(
                select(AttendeeRow.webinar, func.count()).group_by(AttendeeRow.webinar)
            )
            return {code: int(count) for code, count in rows}

    # ------------------------------------------------------------------ documents

    def attach(
        self,
        code: str,
        path: Path,
        services_ingestor: Ingestor,
        visibility: Visibility | str = Visibility.PUBLIC,
        passages: PassageProgress | None = None,
    ) -> IngestReport:
        """Ingest a file as the webinar's material: public for its attendees, or internal for staff.

        `public` material is seen by the webinar's attendees and staff; `internal` (speaker notes,
        say) by staff only. `partner` is refused: the access rule shows webinar material to no
        partner, so the label would promise something the filter never does.

        The ingestor names a single file's document by its file name, so a second webinar's
        `slides.pdf` would replace the first one's. The file is therefore indexed as a copy named
        `<code>--<name>` next to it, with a sidecar keeping the title the original would have had.
        """
        vis = Visibility(visibility)
        if vis is Visibility.PARTNER:
            raise ValueError("webinar material is public (its attendees) or internal (staff only)")
        if self.get(code) is None:
            raise WebinarError("webinar_unknown")
        try:
            natural = services_ingestor.load(path, path.name, vis)
        except LoadError as exc:
            return IngestReport(files=1, failed=[(path.name, str(exc))])
        staged = path.with_name(f"{code}--{path.name}")
        shutil.copyfile(path, staged)
        sidecar: dict[str, object] = {}
        original_sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        if original_sidecar.exists():
            sidecar = dict(yaml.safe_load(original_sidecar.read_text("utf-8")) or {})
        sidecar["title"] = natural.meta.title
        staged.with_name(staged.name + SIDECAR_SUFFIX).write_text(
            yaml.safe_dump(sidecar, allow_unicode=True, sort_keys=True), "utf-8"
        )
        overrides = {"webinar": code, "visibility": vis.value, "partner": ""}
        report = services_ingestor.ingest([staged], vis, None, overrides, passages=passages)
        log.info("webinar %s: attached %s (%d chunks, %s)", code, staged.name, report.chunks, vis)
        return report

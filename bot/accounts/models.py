"""Tables for users, invites and group levels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, TZDateTime, utcnow


class UserRow(Base):
    """A Telegram user the bot has met; the partner city is set by redeeming an invite."""

    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    telegram_language: Mapped[str] = mapped_column(String(16), default="")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)  # set with /language
    partner_city: Mapped[str | None] = mapped_column(String(128), nullable=True)
    partner_since: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class InviteRow(Base):
    """A one-time partner invite code."""

    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    city: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class GroupRow(Base):
    """A group chat's access level (what the bot may show there)."""

    __tablename__ = "groups"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    level: Mapped[str] = mapped_column(String(16), default="public")
    partner_city: Mapped[str | None] = mapped_column(String(128), nullable=True)
    set_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

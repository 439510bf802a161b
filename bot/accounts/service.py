"""Role resolution, partner invites and group levels; the data layer decides who sees what."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from bot.accounts.models import GroupRow, InviteRow, UserRow
from bot.domain import Asker, CityNames, Role, UnknownCity
from bot.i18n import LANGUAGES
from bot.storage.db import Database, built_upsert, dialect_of, insert_missing, utcnow

Clock = Callable[[], datetime]


# every registered partner official, by city
_PARTNERS = select(UserRow).where(UserRow.partner_city.is_not(None)).order_by(UserRow.partner_city)
_USERS: Any = UserRow.__table__
# one user's row, built once and run with the id bound (for every update, and for each staff
# member an escalation is posted to)
_USER = select(*_USERS.c).where(_USERS.c.user_id == bindparam("user_id"))
# what a user's message updates on their row (the rest is set when the row is made)
_SEEN = ("first_name", "username", "telegram_language", "last_seen")


class GroupLevel(StrEnum):
    """The most a group chat may be shown, whoever asks in it."""

    PUBLIC = "public"
    PARTNER = "partner"
    STAFF = "staff"


class InviteError(Exception):
    """An invite code that cannot be used; `reason` is an i18n key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Person:
    """A user as the bot sees them: role, partner city, language, admin flag."""

    user_id: int
    role: Role
    partner: str | None
    language: str
    is_admin: bool

    @property
    def asker(self) -> Asker:
        """Return the access identity used for retrieval."""
        return Asker(self.role, partner=self.partner)


@dataclass(frozen=True)
class Invite:
    """A created invite."""

    code: str
    city: str
    expires_at: datetime
    used_by: int | None = None


def pick_language(override: str | None, telegram: str | None) -> str:
    """Choose the reply language: the user's /language choice, else Telegram's, else English."""
    for candidate in (override, telegram):
        if candidate and candidate[:2].lower() in LANGUAGES:
            return candidate[:2].lower()
    return "en"


class AccountService:
    """Users, roles, invites and groups, stored in the one database."""

    def __init__(
        self,
        db: Database,
        staff_ids: Iterable[int],
        admin_ids: Iterable[int],
        invite_ttl: timedelta = timedelta(days=7),
        public_access: bool = True,
        clock: Clock = utcnow,
        cities: CityNames | None = None,
    ) -> None:
        self.db = db
        # the partner directory's names (뒤셀도르프, Duesseldorf -> Düsseldorf): an invite or a
        # group stores the directory's name, so it matches the city documents and meetings name
        self.cities = cities or CityNames()
        self.admin_ids = frozenset(admin_ids)
        self.staff_ids = frozenset(staff_ids) | self.admin_ids  # an admin is staff too
        self.invite_ttl = invite_ttl
        self.public_access = public_access
        self.clock = clock

    # ------------------------------------------------------------------ people

    def touch(
        self, user_id: int, first_name: str = "", username: str = "", telegram_language: str = ""
    ) -> Person:
        """Record that a user wrote (name, Telegram language) and return who they are."""
        now = self.clock()
        seen = {
            "first_name": first_name[:128],
            "username": (username or "")[:64],
            "telegram_language": (telegram_language or "")[:16],
            "last_seen": now,
        }
        with self.db.session() as s:
            # one statement: made if new, else updated (two processes at once: one row, both
            # updates), and read back; built once, run with the values bound
            upsert = built_upsert(dialect_of(s), UserRow, ("user_id",), _SEEN)
            values = {"user_id": user_id, "first_seen": now, **seen}
            return self._person(s.connection().execute(upsert, values).one())

    def _user(self, session: Session, user_id: int) -> UserRow:
        """Return the user's row, made now if the bot has never met them.

        Insert-or-ignore, then read: a new user's first two updates handled by two processes at
        once both find the one row, where an insert each would fail one of them.
        """
        now = self.clock()
        insert_missing(
            session, UserRow, {"user_id": user_id, "first_seen": now, "last_seen": now}, ["user_id"]
        )
        row = session.get(UserRow, user_id, populate_existing=True)
        assert row is not None
        return row

    def person(self, user_id: int) -> Person:
        """Return who a user is (public if the bot has never met them)."""
        with self.db.session() as s:
            row = s.connection().execute(_USER, {"user_id": user_id}).first()
            return self._person(row or UserRow(user_id=user_id))

    def _person(self, row: UserRow | Row[Any]) -> Person:
        if row.user_id in self.staff_ids:
            role, partner = Role.STAFF, None
        elif row.partner_city:
            # a city stored as typed before the directory knew it is read as the directory's
            role, partner = Role.PARTNER, self.cities.resolve(row.partner_city) or row.partner_city
        else:
            role, partner = Role.PUBLIC, None
        language = pick_language(row.language, row.telegram_language)
        return Person(row.user_id, role, partner, language, row.user_id in self.admin_ids)

    def may_use(self, person: Person) -> bool:
        """Tell whether this person may use the bot at all (public access can be switched off)."""
        return self.public_access or person.role is not Role.PUBLIC

    def set_language(self, user_id: int, language: str) -> None:
        """Store a user's language choice."""
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        with self.db.session() as s:
            self._user(s, user_id).language = language

    def partners(self) -> list[tuple[int, str, str, datetime | None]]:
        """List partner officials: (user id, name, city, since)."""
        with self.db.session() as s:
            rows = s.scalars(_PARTNERS)
            return [
                (
                    r.user_id,
                    r.first_name or r.username,
                    self.cities.resolve(r.partner_city) or r.partner_city or "",
                    r.partner_since,
                )
                for r in rows
            ]

    def partner_ids(self, city: str) -> list[int]:
        """Return the user ids of a city's registered partner officials."""
        return [p.user_id for p in self.partner_officials(city)]

    def partner_officials(self, city: str) -> list[Person]:
        """Return a city's registered partner officials (language and all), read in one query."""
        key = self.cities.key(city)
        with self.db.session() as s:
            rows = s.scalars(_PARTNERS)
            return [self._person(r) for r in rows if self.cities.key(r.partner_city) == key]

    def revoke(self, user_id: int) -> bool:
        """Take a user's partner role away; return whether they had one."""
        with self.db.session() as s:
            row = s.get(UserRow, user_id)
            if row is None or not row.partner_city:
                return False
            row.partner_city = None
            row.partner_since = None
            return True

    # ------------------------------------------------------------------ invites

    def city(self, typed: str) -> str:
        """Return the directory's name of a typed city; raise UnknownCity for one it lacks.

        Without a directory every name is accepted as typed (spaces tidied).
        """
        name = " ".join(typed.split())
        if not name or len(name) > 128:
            raise ValueError("a city name is needed")
        resolved = self.cities.resolve(name)
        if resolved is None and self.cities:
            raise UnknownCity(name, self.cities.known)
        return resolved or name

    def create_invite(self, city: str, created_by: int) -> Invite:
        """Create a one-time invite for a partner city (admins only; UnknownCity if unknown)."""
        if created_by not in self.admin_ids:
            raise PermissionError("only admins create invites")
        city = self.city(city)
        code = secrets.token_urlsafe(12)  # 16 URL-safe characters: fits a deep-link payload
        expires = self.clock() + self.invite_ttl
        with self.db.session() as s:
            s.add(
                InviteRow(
                    code=code,
                    city=city,
                    created_by=created_by,
                    created_at=self.clock(),
                    expires_at=expires,
                )
            )
        return Invite(code, city, expires)

    def redeem(self, code: str, user_id: int) -> str:
        """Make the user a partner of the invite's city; raise InviteError if the code is not usable.

        The invite is taken by one conditional UPDATE (still unused, not revoked, not expired):
        of two people redeeming one code at the same moment, one takes it and the other is told
        it was used, as if they had come one after the other.
        """
        now = self.clock()
        with self.db.session() as s:
            taken = s.execute(
                update(InviteRow)
                .where(
                    InviteRow.code == code,
                    InviteRow.used_by.is_(None),
                    InviteRow.revoked.is_(False),
                    InviteRow.expires_at > now,
                )
                .values(used_by=user_id, used_at=now)
                .execution_options(synchronize_session=False)
            )
            row = s.get(InviteRow, code, populate_existing=True)
            if not taken.rowcount:  # type: ignore[attr-defined]
                if row is None or row.revoked:
                    raise InviteError("invite_invalid")
                if row.used_by is not None:
                    raise InviteError("invite_used")
                raise InviteError("invite_expired")
            assert row is not None
            user = self._user(s, user_id)
            user.partner_city = row.city
            user.partner_since = now
            return row.city

    def invites(self) -> list[Invite]:
        """List open invites (unused, unexpired, not revoked)."""
        now = self.clock()
        with self.db.session() as s:
            rows = s.scalars(
                select(InviteRow).where(InviteRow.used_by.is_(None), InviteRow.revoked.is_(False))
            )
            return [Invite(r.code, r.city, r.expires_at) for r in rows if r.expires_at > now]

    # ------------------------------------------------------------------ groups

    def set_group_level(
        self, chat_id: int, level: GroupLevel, city: str | None, set_by: int
    ) -> str | None:
        """Set what a group may be shown (admins only); return the city as stored.

        The city is stored under the directory's name (UnknownCity if it has none for it).
        """
        if set_by not in self.admin_ids:
            raise PermissionError("only admins set group levels")
        city = self.city(city) if city and city.strip() else None
        with self.db.session() as s:
            s.merge(GroupRow(chat_id=chat_id, level=level.value, partner_city=city, set_by=set_by))
        return city

    def group_level(self, chat_id: int) -> tuple[GroupLevel, str | None]:
        """Return a group's level and partner city (public by default)."""
        with self.db.session() as s:
            row = s.get(GroupRow, chat_id)
            if row is None:
                return GroupLevel.PUBLIC, None
            city = row.partner_city and (self.cities.resolve(row.partner_city) or row.partner_city)
            return GroupLevel(row.level), city or None

    def asker_in_chat(self, person: Person, chat_id: int, is_group: bool) -> Asker:
        """Return the access identity for a question: the person's rights meet the group's cap.

        Everyone in a group reads the answer, so it may show only what both the asker and the
        group may see: a staff member in a public group gets public answers.
        """
        if not is_group:
            return person.asker
        level, group_city = self.group_level(chat_id)
        if level is GroupLevel.STAFF or person.role in (Role.PUBLIC, Role.ATTENDEE):
            return person.asker
        if level is GroupLevel.PUBLIC:
            return Asker(Role.PUBLIC)
        # partner-level group: partner documents of the group's city at most
        same_city = group_city is not None and (
            person.role is Role.STAFF
            or self.cities.key(person.partner) == self.cities.key(group_city)
        )
        return Asker(Role.PARTNER, partner=group_city if same_city else None)

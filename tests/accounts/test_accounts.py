"""Role resolution, invites (expiry, reuse), group caps, the rate limiter and the feedback log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.accounts.models import GroupRow, UserRow
from bot.accounts.service import AccountService, GroupLevel, InviteError, pick_language
from bot.domain import Answer, Asker, Citation, CityNames, Role, UnknownCity, Visibility
from bot.followup.feedback import FeedbackService
from bot.ratelimit import RateLimiter
from bot.schema import open_database
from bot.storage.db import Database

STAFF, ADMIN, USER = 10, 1, 50


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(database_url: str) -> Database:
    return open_database(database_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(db: Database, clock: Clock) -> AccountService:
    return AccountService(db, [STAFF], [ADMIN], invite_ttl=timedelta(days=7), clock=clock)


def test_roles_come_from_settings_and_redeemed_invites(accounts: AccountService) -> None:
    assert accounts.touch(STAFF).role is Role.STAFF
    admin = accounts.touch(ADMIN)
    assert admin.role is Role.STAFF and admin.is_admin
    assert accounts.touch(USER).role is Role.PUBLIC
    code = accounts.create_invite("Riverton", ADMIN).code
    assert accounts.redeem(code, USER) == "Riverton"
    person = accounts.person(USER)
    assert (person.role, person.partner) == (Role.PARTNER, "Riverton")
    assert person.asker == Asker(Role.PARTNER, partner="Riverton")


def test_an_invite_works_once(accounts: AccountService) -> None:
    code = accounts.create_invite("Riverton", ADMIN).code
    accounts.redeem(code, USER)
    with pytest.raises(InviteError) as info:
        accounts.redeem(code, USER + 1)
    assert info.value.reason == "invite_used"
    assert accounts.person(USER + 1).role is Role.PUBLIC


def test_an_invite_expires(accounts: AccountService, clock: Clock) -> None:
    code = accounts.create_invite("Bien Hoa", ADMIN).code
    clock.now += timedelta(days=7, seconds=1)
    with pytest.raises(InviteError) as info:
        accounts.redeem(code, USER)
    assert info.value.reason == "invite_expired"
    assert accounts.invites() == []


def test_unknown_codes_and_non_admin_invites_are_refused(accounts: AccountService) -> None:
    with pytest.raises(InviteError):
        accounts.redeem("nope", USER)
    with pytest.raises(PermissionError):
        accounts.create_invite("Riverton", STAFF)


def test_revoke_takes_the_partner_role_away(accounts: AccountService) -> None:
    accounts.redeem(accounts.create_invite("Riverton", ADMIN).code, USER)
    assert accounts.revoke(USER)
    assert accounts.person(USER).role is Role.PUBLIC
    assert not accounts.revoke(USER)


def test_group_level_caps_what_anyone_asking_there_may_see(accounts: AccountService) -> None:
    group = -100
    accounts.redeem(accounts.create_invite("Riverton", ADMIN).code, USER)
    staff, partner, public = (
        accounts.person(STAFF),
        accounts.person(USER),
        accounts.person(USER + 9),
    )
    assert accounts.asker_in_chat(staff, group, True) == Asker(Role.PUBLIC)  # default public
    accounts.set_group_level(group, GroupLevel.PARTNER, "Riverton", ADMIN)
    assert accounts.asker_in_chat(staff, group, True) == Asker(Role.PARTNER, partner="Riverton")
    assert accounts.asker_in_chat(partner, group, True) == Asker(Role.PARTNER, partner="Riverton")
    assert accounts.asker_in_chat(public, group, True) == Asker(Role.PUBLIC)
    accounts.set_group_level(group, GroupLevel.PARTNER, "Bien Hoa", ADMIN)
    # a Riverton official in a Bien Hoa group sees neither city's partner-only documents
    assert accounts.asker_in_chat(partner, group, True) == Asker(Role.PARTNER, partner=None)
    accounts.set_group_level(group, GroupLevel.STAFF, None, ADMIN)
    assert accounts.asker_in_chat(staff, group, True) == Asker(Role.STAFF)
    assert accounts.asker_in_chat(staff, group, False) == Asker(Role.STAFF)
    with pytest.raises(PermissionError):
        accounts.set_group_level(group, GroupLevel.STAFF, None, STAFF)


def test_public_access_switch(db: Database) -> None:
    closed = AccountService(db, [STAFF], [ADMIN], public_access=False)
    assert not closed.may_use(closed.touch(USER))
    assert closed.may_use(closed.touch(STAFF))


def test_language_choice_beats_telegrams_and_unknown_falls_back_to_english(
    accounts: AccountService,
) -> None:
    assert accounts.touch(USER, telegram_language="de-DE").language == "de"
    accounts.set_language(USER, "vi")
    assert accounts.touch(USER, telegram_language="de").language == "vi"
    assert pick_language(None, "ja") == "en"


def test_rate_limiter_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60, clock=lambda: now[0])
    assert [limiter.check("u") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("u") == pytest.approx(60.0)
    assert limiter.check("other") == 0.0
    now[0] = 30.0
    assert limiter.check("u") == pytest.approx(30.0)
    now[0] = 60.01
    assert limiter.check("u") == 0.0


def test_a_refused_key_is_told_once_per_window() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 60, clock=lambda: now[0])
    assert [limiter.told("u") for _ in range(3)] == [False, True, True]
    assert not limiter.told("other")
    now[0] = 59.9
    assert limiter.told("u")
    now[0] = 60.0
    assert not limiter.told("u"), "a new window: told again, once"
    assert limiter.told("u")


def test_votes_are_stored_with_the_answer_and_counted(db: Database, clock: Clock) -> None:
    feedback = FeedbackService(db, clock=clock)
    cite = Citation(1, "a.md", "Agreement", "", "text", 0.9, Visibility.PUBLIC, "c1")
    answered = feedback.log(USER, USER, Asker(), Answer("q1", "a [1]", (cite,), True, "en"))
    declined = feedback.log(USER, USER, Asker(), Answer("q2", "no", (), False, "en"))
    assert feedback.vote(answered, USER, 1)
    assert not feedback.vote(answered, USER + 1, -1), "only the asker votes on an answer"
    assert feedback.vote(declined, USER, -1)
    row = feedback.get(answered)
    assert row is not None and row.vote == 1 and row.sources[0]["title"] == "Agreement"
    stats = feedback.stats()
    assert (stats["answered"], stats["declined"], stats["up"], stats["down"]) == (1, 1, 1, 1)
    assert stats["top_sources"] == [("Agreement", 1)]
    last = feedback.last_answer(USER, USER)
    assert last is not None and last.question == "q2"


def test_timestamps_must_be_timezone_aware(db: Database) -> None:
    feedback = FeedbackService(db, clock=lambda: datetime(2026, 1, 1))  # naive: a bug
    with pytest.raises(Exception, match="naive"):
        feedback.log(USER, USER, Asker(), Answer("q", "a", (), True, "en"))


def test_an_invite_for_a_partner_alias_registers_the_directorys_city(make_services) -> None:  # type: ignore[no-untyped-def]
    """뒤셀도르프 or Duesseldorf: documents and meetings are tagged Düsseldorf, so must the partner be."""
    services = make_services(staff_user_ids=[1], admin_user_ids=[1])
    accounts = services.accounts
    for typed, user in (("뒤셀도르프", 20), ("duesseldorf", 21), ("뒤셀도르프시", 22)):
        invite = accounts.create_invite(typed, created_by=1)
        accounts.redeem(invite.code, user)
    assert {accounts.person(u).partner for u in (20, 21, 22)} == {"Düsseldorf"}
    assert sorted(accounts.partner_ids("Düsseldorf")) == [20, 21, 22]
    assert sorted(accounts.partner_ids("DUSSELDORF")) == [20, 21, 22]


def test_an_invite_for_a_city_the_directory_lacks_is_refused_naming_the_known_ones(
    make_services,
) -> None:  # type: ignore[no-untyped-def]
    accounts = make_services(staff_user_ids=[1], admin_user_ids=[1]).accounts
    with pytest.raises(UnknownCity) as refused:
        accounts.create_invite("Springfield", created_by=1)
    assert refused.value.name == "Springfield"
    assert refused.value.known == ["Düsseldorf", "Bien Hoa", "Riverton", "Tsurugaoka", "Darkhan"]
    assert accounts.invites() == []


def test_without_a_directory_an_invite_keeps_the_city_as_typed(tmp_path, make_services) -> None:  # type: ignore[no-untyped-def]
    services = make_services(
        staff_user_ids=[1], admin_user_ids=[1], partners_file=tmp_path / "none.yaml"
    )
    invite = services.accounts.create_invite("  Springfield ", created_by=1)
    services.accounts.redeem(invite.code, 22)
    assert services.accounts.person(22).partner == "Springfield"


NAMES = CityNames([["Düsseldorf", "뒤셀도르프", "Duesseldorf"], ["Riverton", "리버턴"]])


def test_a_group_level_stores_the_directorys_name_and_refuses_an_unknown_city(
    db: Database, clock: Clock
) -> None:
    accounts = AccountService(db, [STAFF], [ADMIN], clock=clock, cities=NAMES)
    assert accounts.set_group_level(-1, GroupLevel.PARTNER, "뒤셀도르프시", ADMIN) == "Düsseldorf"
    assert accounts.group_level(-1) == (GroupLevel.PARTNER, "Düsseldorf")
    with pytest.raises(UnknownCity, match="known: Düsseldorf, Riverton"):
        accounts.set_group_level(-1, GroupLevel.PARTNER, "Atlantis", ADMIN)
    assert accounts.group_level(-1) == (GroupLevel.PARTNER, "Düsseldorf"), "left as it was"


def test_cities_stored_as_typed_before_are_read_as_the_directorys(
    db: Database, clock: Clock
) -> None:
    """A group set to 뒤셀도르프 and an official of duesseldorf, stored so by an older version."""
    with db.session() as s:
        s.add(GroupRow(chat_id=-2, level="partner", partner_city="뒤셀도르프", set_by=ADMIN))
        s.add(UserRow(user_id=30, first_seen=clock(), partner_city="duesseldorf"))
    accounts = AccountService(db, [STAFF], [ADMIN], clock=clock, cities=NAMES)
    official = accounts.person(30)
    assert official.partner == "Düsseldorf"
    assert accounts.asker_in_chat(official, -2, True) == Asker(Role.PARTNER, partner="Düsseldorf")
    assert accounts.partner_ids("DÜSSELDORF") == [30]
    assert [city for _, _, city, _ in accounts.partners()] == ["Düsseldorf"]


def test_stats_count_days_in_the_offices_time_zone(db: Database, clock: Clock) -> None:
    from zoneinfo import ZoneInfo

    clock.now = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 01:30 on the 24th in Seoul
    feedback = FeedbackService(db, clock=clock)
    feedback.log(USER, USER, Asker(), Answer("q", "a", (), True, "en"))
    assert list(feedback.stats()["per_day"]) == ["2026-11-23"]  # type: ignore[call-overload]
    seoul = feedback.stats(tz=ZoneInfo("Asia/Seoul"))["per_day"]
    assert list(seoul) == ["2026-11-24"]  # type: ignore[call-overload]

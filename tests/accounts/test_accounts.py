"""Role resolution, invites (expiry, reuse), group caps, the rate limiter and the feedback log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.accounts.service import AccountService, GroupLevel, InviteError, pick_language
from bot.domain import Answer, Asker, Citation, Role, Visibility
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
    for typed, user in (("뒤셀도르프", 20), ("duesseldorf", 21), ("Springfield", 22)):
        invite = accounts.create_invite(typed, created_by=1)
        accounts.redeem(invite.code, user)
    assert accounts.person(20).partner == accounts.person(21).partner == "Düsseldorf"
    assert accounts.person(22).partner == "Springfield", "a city the directory lacks stays as typed"
    assert sorted(accounts.partner_ids("Düsseldorf")) == [20, 21]

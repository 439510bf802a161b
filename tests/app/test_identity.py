"""Any city can run it: who the bot speaks for comes from configuration, and a city has one name.

The office's identity (OFFICE_NAME, the directory's home city) reaches every string, the LLM's
prompt and the time zone of statistics; a partner city typed or tagged any way is the directory's
city for invites, group levels and the access filter.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.answering.llm import LLMAnswerer
from bot.app.core import App
from bot.app.messages import Actor
from bot.domain import Asker
from bot.followup.feedback import QuestionRow
from bot.i18n import CATALOGS, t
from bot.office import Office
from bot.scheduling.directory import Directory
from bot.services import Services, build_office, build_services
from bot.storage.db import utcnow
from tests.app.conftest import RecordingOutbox
from tests.conftest import ROOT, make_settings, write

ADMIN, PARTNER = 1, 300
GROUP = -500
SAMPLE_CITY = ("hanbit", "한빛")
ANYANG_YAML = """\
home:
  name: Anyang
  aliases: [안양, 안양시]
  timezone: Asia/Seoul
  country: KR
  working_hours: "09:00-18:00"
partners:
  - name: Hildesheim
    aliases: [힐데스하임]
    country: DE
    subdivision: NI
    timezone: Europe/Berlin
    working_hours: "08:00-16:00"
    language: de
"""
OFFICE_NAME = "International Relations Division, Anyang City"


@pytest.fixture
def anyang(tmp_path: Path) -> Path:
    return write(tmp_path / "anyang" / "partners.yaml", ANYANG_YAML)


@pytest.fixture
def services_for(tmp_path: Path, embedder: Any, analyzer: Any) -> Iterator[Any]:
    """Build real services on a fresh data dir with these settings (an LLM answerer included)."""
    built: list[Services] = []

    def build(llm: bool = False, **overrides: object) -> Services:
        settings = make_settings(tmp_path / f"data{len(built)}", **overrides)
        # a chat model that is never called: the LLM answerer's prompt is what is looked at
        model = object() if llm else None
        services = build_services(settings, embedder, analyzer, chat_model=model)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


def placeholders(template: str) -> set[str]:
    """Return the names of a template's format fields."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render_all(office: Office) -> dict[tuple[str, str], str]:
    """Render every string of every language, each placeholder a dummy, with the office's values."""
    rendered = {}
    for lang, catalog in CATALOGS.items():
        for key, template in catalog.items():
            dummies = {name: f"<{name}>" for name in placeholders(template)}
            rendered[lang, key] = template.format(**{**dummies, **office.values(lang)})
    return rendered


def offices(anyang: Path) -> dict[str, Office]:
    directory = Directory.load(anyang)
    return {
        "named": build_office(make_settings(Path("."), office_name=OFFICE_NAME), directory),
        "derived": build_office(make_settings(Path(".")), directory),
        "no directory": build_office(make_settings(Path(".")), None),
    }


def test_no_string_of_any_language_names_the_sample_city(anyang: Path) -> None:
    for kind, office in offices(anyang).items():
        for (lang, key), text in render_all(office).items():
            assert not any(name in text.casefold() for name in SAMPLE_CITY), (kind, lang, key)
            assert "<office>" not in text and "<home>" not in text, (kind, lang, key)


def test_the_greeting_names_the_configured_office_in_every_language(anyang: Path) -> None:
    named, derived, neutral = offices(anyang).values()
    for lang in CATALOGS:
        assert OFFICE_NAME in named.t("start", lang, name="Kim")
        greeting = derived.t("start", lang, name="Kim")
        assert ("안양시" if lang == "ko" else "Anyang") in greeting, lang
        assert neutral.t("start", lang, name="Kim").count("Kim") == 1
    assert derived.t("start", "en", name="Kim") == (
        "Hello Kim! I am the assistant of Anyang's international-exchange office."
    )
    assert (
        derived.t("start", "ko", name="Kim")
        == "Kim님, 안녕하세요! 안양시 국제교류팀 업무 도우미입니다."
    )
    assert neutral.t("start", "en", name="Kim").endswith("the international-exchange office.")


def test_examples_and_usage_lines_come_from_the_directory(anyang: Path) -> None:
    _, derived, neutral = offices(anyang).values()
    assert "meeting with Hildesheim next Tuesday" in derived.t("meet_missing", "en", fields="?")
    assert "힐데스하임 측과" in derived.t("meet_missing", "ko", fields="?")
    assert "meeting with CITY" in neutral.t("meet_missing", "en", fields="?")
    assert derived.t("meet_reschedule_usage", "de").endswith("(Uhrzeit in Anyang)")
    assert derived.t("meet_reschedule_usage", "ko").endswith("(안양시 시간)")
    assert neutral.t("meet_reschedule_usage", "en").endswith("(time in UTC)")


def test_the_greeting_the_llm_prompt_and_a_decline_name_the_office(
    services_for: Any, anyang: Path
) -> None:
    services = services_for(llm=True, partners_file=anyang, office_name=OFFICE_NAME)
    assert services.office.timezone == "Asia/Seoul"
    app = App(services, RecordingOutbox())
    greeting = app.command(Actor(ADMIN, ADMIN, first_name="Kim", language_code="de"), "start")
    assert OFFICE_NAME in greeting.messages[0].text
    answerer = services.answerer
    assert isinstance(answerer, LLMAnswerer)
    for lang in CATALOGS:
        prompt = answerer.system_message(lang)
        assert f"the assistant of {OFFICE_NAME}." in prompt
        assert not any(name in prompt.casefold() for name in SAMPLE_CITY)
    declined = services.extractive.answer("Wie hoch ist der Zuschuss für Tram-Fahrer?", Asker())
    assert not declined.grounded and OFFICE_NAME in declined.text


def test_without_a_directory_the_office_is_neutral_and_keeps_utc(
    services_for: Any, tmp_path: Path
) -> None:
    services = services_for(llm=True, partners_file=tmp_path / "nowhere.yaml")
    assert services.office.timezone == "UTC" and services.scheduling is None
    answerer = services.answerer
    assert isinstance(answerer, LLMAnswerer)
    assert "the assistant of the international-exchange office." in answerer.system_message("en")


def test_stats_count_days_in_the_offices_time_zone(services_for: Any, anyang: Path) -> None:
    services = services_for(partners_file=anyang, staff_user_ids=[ADMIN])
    # yesterday 16:30 UTC is today 01:30 in Anyang (Asia/Seoul)
    at = (utcnow() - timedelta(days=1)).replace(hour=16, minute=30, second=0, microsecond=0)
    with services.db.session() as s:
        s.add(
            QuestionRow(
                user_id=ADMIN,
                chat_id=ADMIN,
                role="staff",
                question="q",
                answer="a",
                grounded=True,
                language="en",
                sources=[],
                created_at=at,
            )
        )
    text = App(services, RecordingOutbox()).command(Actor(ADMIN, ADMIN), "stats").messages[0].text
    local = (at + timedelta(hours=9)).date().isoformat()
    assert f"  {local}: " in text and f"  {at.date().isoformat()}: " not in text


# ------------------------------------------------------------ one name for a city

PARTNERS = ROOT / "knowledge" / "partners.yaml"


def admin_in(chat: int) -> Actor:
    return Actor(ADMIN, chat, in_group=chat < 0, first_name="Kim", language_code="en")


@pytest.fixture
def sample_app(services_for: Any, tmp_path: Path) -> App:
    """The sample directory, and partner documents of Düsseldorf (tagged two ways) and Bien Hoa."""
    services = services_for(partners_file=PARTNERS, staff_user_ids=[ADMIN], admin_user_ids=[ADMIN])
    docs = {
        "dus.md": ("Düsseldorf", "Düsseldorf pays 60,000 euro into the hydrogen joint fund."),
        "dus-alias.md": ("Duesseldorf", "The Düsseldorf tram delegation arrives on 12 May."),
        "bh.md": ("Bien Hoa", "Bien Hoa pays 40,000 euro into the hydrogen joint fund."),
    }
    for name, (partner, text) in docs.items():
        front = f"---\ntitle: {name}\nvisibility: partner\npartner: {partner}\nlanguage: en\n---\n"
        write(tmp_path / "kb" / name, front + text + "\n")
    report = services.ingestor.ingest([tmp_path / "kb"])
    assert not report.failed
    return App(services, RecordingOutbox())


def cited(app: App, actor: Actor, question: str) -> set[str]:
    answer = app.text(actor, question).messages[0].answer
    assert answer is not None
    return {c.source for c in answer.citations}


def test_a_group_set_to_a_partner_alias_sees_that_citys_documents(sample_app: App) -> None:
    group = admin_in(GROUP)
    assert cited(sample_app, group, "hydrogen joint fund euro") == set(), "public by default"
    reply = sample_app.command(group, "grouplevel", "partner 뒤셀도르프")
    assert reply.messages[0].text == t(
        "grouplevel_set", "en", level="partner", city=" (Düsseldorf)"
    )
    assert sample_app.services.accounts.group_level(GROUP)[1] == "Düsseldorf"
    assert cited(sample_app, group, "hydrogen joint fund euro") == {"dus.md", "dus-alias.md"}
    assert cited(sample_app, group, "tram delegation arrival") == {"dus.md", "dus-alias.md"}


def test_an_unknown_city_is_refused_with_the_known_ones(sample_app: App) -> None:
    known = "Düsseldorf, Bien Hoa, Riverton, Tsurugaoka, Darkhan"
    refused = t("city_unknown", "en", city="Atlantis", known=known)
    assert sample_app.command(admin_in(ADMIN), "invite", "Atlantis").messages[0].text == refused
    assert sample_app.services.accounts.invites() == []
    grouplevel = sample_app.command(admin_in(GROUP), "grouplevel", "partner Atlantis")
    assert grouplevel.messages[0].text == refused
    assert sample_app.services.accounts.group_level(GROUP) == (
        sample_app.services.accounts.group_level(GROUP + 1)  # still the default
    )


def test_an_invite_for_an_alias_makes_an_official_of_the_directorys_city(
    sample_app: App,
) -> None:
    reply = sample_app.command(admin_in(ADMIN), "invite", "비엔호아시")
    assert reply.messages[0].text.startswith("Invite for Bien Hoa ")
    code = sample_app.services.accounts.invites()[0].code
    official = Actor(PARTNER, PARTNER, language_code="en")
    sample_app.command(official, "start", f"join_{code}")
    assert sample_app.services.accounts.person(PARTNER).partner == "Bien Hoa"
    assert cited(sample_app, official, "hydrogen joint fund euro") == {"bh.md"}
    assert cited(sample_app, official, "tram delegation arrival") <= {"bh.md"}

"""Webinars: codes and links, registration (unknown, closed, twice), attached documents."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from bot.domain import Asker, Role, Visibility
from bot.followup.webinars import WebinarError, WebinarService, code_from_payload, deep_link, qr_png
from bot.services import Services
from bot.storage.db import Database
from tests.conftest import statements, write
from tests.followup.conftest import Clock

STAFF = 10
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def webinars(db: Database, clock: Clock) -> WebinarService:
    return WebinarService(db, clock)


def test_a_new_webinar_has_a_short_unguessable_code_fit_for_a_deep_link(
    webinars: WebinarService,
) -> None:
    codes = {
        webinars.create("Hydrogen forum", date(2026, 11, 20), "en", STAFF).code for _ in range(20)
    }
    assert len(codes) == 20
    for code in codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{8,60}", code)
        link = deep_link("@HanbitExchangeBot", code)
        assert link == f"https://t.me/HanbitExchangeBot?start=w_{code}"
        payload = link.split("start=")[1]
        assert len(payload) <= 64 and code_from_payload(payload) == code


def test_a_start_payload_that_is_not_a_webinar_link_gives_no_code() -> None:
    assert code_from_payload("inv_abc") is None
    assert code_from_payload("w_bad code!") is None
    assert code_from_payload(None) is None
    assert deep_link("bot", "abc") == "https://t.me/bot?start=w_abc"


def test_the_qr_code_is_a_png_image(webinars: WebinarService) -> None:
    png = qr_png("https://t.me/HanbitExchangeBot?start=w_abcdefghijkl")
    assert png.startswith(PNG)
    image = Image.open(io.BytesIO(png))
    assert image.size[0] == image.size[1] >= 200


def test_registering_twice_is_idempotent_and_the_last_link_opened_is_current(
    webinars: WebinarService, clock: Clock
) -> None:
    first = webinars.create("Forum A", date(2026, 11, 20), "en", STAFF).code
    second = webinars.create("Forum B", date(2026, 11, 21), "ko", STAFF).code
    assert webinars.webinar_of(50) is None
    assert webinars.register(50, first, "en").code == first
    webinars.register(50, first, "de")
    assert [(a.user_id, a.language) for a in webinars.attendees(first)] == [(50, "de")]
    webinars.register(50, second, "ko")  # same clock time: the order of opening still decides
    assert webinars.webinar_of(50) == second
    webinars.register(50, first, "ko")
    assert webinars.webinar_of(50) == first
    assert [a.user_id for a in webinars.attendees(second)] == [50]


def test_an_unknown_or_closed_webinar_refuses_registration_with_a_reason(
    webinars: WebinarService, clock: Clock
) -> None:
    with pytest.raises(WebinarError) as unknown:
        webinars.register(50, "nope", "en")
    assert unknown.value.reason == "webinar_unknown"
    code = webinars.create("Forum", date(2026, 11, 20), "en", STAFF).code
    webinars.register(50, code, "en")
    closed = webinars.close(code)
    assert not closed.is_open and closed.closed_at == clock.now
    clock.advance(hours=1)
    assert webinars.close(code).closed_at == closed.closed_at  # closing again changes nothing
    with pytest.raises(WebinarError) as refused:
        webinars.register(51, code, "en")
    assert refused.value.reason == "webinar_closed"
    assert (
        webinars.webinar_of(50) == code
    )  # an attendee keeps their webinar: the handler says it is closed
    with pytest.raises(WebinarError):
        webinars.close("nope")


def test_an_attendees_identity_and_whether_their_webinar_closed_take_one_query(
    db: Database, webinars: WebinarService
) -> None:
    first = webinars.create("Forum A", date(2026, 11, 20), "en", STAFF).code
    second = webinars.create("Forum B", date(2026, 11, 21), "en", STAFF).code
    with statements(db.engine) as sent:
        assert webinars.attendee_asker(50) == (None, False)
    assert len(sent) == 1
    webinars.register(50, second, "en")
    webinars.register(50, first, "en")  # the link opened last decides
    webinars.close(second)
    with statements(db.engine) as sent:
        assert webinars.attendee_asker(50) == (Asker(Role.ATTENDEE, webinar=first), False)
    assert len(sent) == 1, sent
    webinars.close(first)
    assert webinars.attendee_asker(50) == (Asker(Role.ATTENDEE, webinar=first), True)
    assert webinars.attendee_asker(51) == (None, False)


def test_listing_shows_the_latest_first_and_can_leave_closed_ones_out(
    webinars: WebinarService,
) -> None:
    old = webinars.create("Old", date(2026, 5, 1), "en", STAFF).code
    new = webinars.create("New", date(2026, 11, 1), "en", STAFF).code
    assert [w.code for w in webinars.list()] == [new, old]
    webinars.close(new)
    assert [w.code for w in webinars.list(open_only=True)] == [old]
    assert webinars.get(old) is not None and webinars.get("nope") is None


def test_attached_material_is_tagged_and_same_named_files_of_two_webinars_both_stay(
    tmp_path: Path, make_services
) -> None:  # type: ignore[no-untyped-def]
    services: Services = make_services()
    webinars = WebinarService(services.db)
    a = webinars.create("Hydrogen forum", date(2026, 11, 20), "en", STAFF).code
    b = webinars.create("Tram forum", date(2026, 11, 21), "en", STAFF).code
    slides_a = write(
        tmp_path / "up-a" / "slides.md",
        "# Hydrogen buses\n\nThe hydrogen bus pilot runs 12 buses from March.\n",
    )
    slides_b = write(
        tmp_path / "up-b" / "slides.md",
        "# Tram plans\n\nThe new tram line opens with 8 stops in 2028.\n",
    )
    assert webinars.attach(a, slides_a, services.ingestor).chunks >= 1
    assert webinars.attach(b, slides_b, services.ingestor).chunks >= 1
    notes = write(
        tmp_path / "up-a" / "notes.md",
        "# Speaker notes\n\nThe hydrogen bus pilot costs are still secret.\n",
    )
    webinars.attach(a, notes, services.ingestor, visibility="internal")

    docs = {d.source: d for d in services.store.documents()}
    assert {(d.webinar, d.visibility, d.title) for d in docs.values()} == {
        (a, Visibility.PUBLIC, "Hydrogen buses"),
        (b, Visibility.PUBLIC, "Tram plans"),
        (a, Visibility.INTERNAL, "Speaker notes"),
    }
    seen_by_a = {
        h.chunk.doc.title
        for q in ("hydrogen bus pilot", "tram line stops")
        for h in services.retriever.retrieve(q, Asker(Role.ATTENDEE, webinar=a), 5).hits
    }
    assert seen_by_a == {"Hydrogen buses"}  # not the other webinar's, not the staff-only notes


def test_attaching_refuses_partner_visibility_and_unknown_webinars(
    tmp_path: Path, db: Database
) -> None:
    webinars = WebinarService(db)
    code = webinars.create("Forum", date(2026, 11, 20), "en", STAFF).code
    file = write(tmp_path / "x.md", "# X\n\ntext\n")
    with pytest.raises(ValueError):
        webinars.attach(code, file, None, visibility="partner")  # type: ignore[arg-type]
    with pytest.raises(WebinarError):
        webinars.attach("nope", file, None)  # type: ignore[arg-type]

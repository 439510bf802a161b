"""The application layer on real services: flows that survive restarts, buttons that cannot be
forged, and the rules every front-end shares."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.core import App
from bot.app.messages import Actor, Reply
from bot.i18n import t
from tests.app.conftest import RecordingOutbox
from tests.conftest import ROOT, write

STAFF, PUBLIC, ATTENDEE = 100, 200, 500
PARTNERS = ROOT / "knowledge" / "partners.yaml"
EXPIRED = t("offer_expired", "en")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def build(make_services: Any, data: Path, outbox: RecordingOutbox, database_url: str) -> Any:
    """Return a function that starts the application on the data dir (again: a restart)."""

    def start() -> App:
        services = make_services(
            data, partners_file=PARTNERS, staff_user_ids=[STAFF], database_url=database_url
        )
        return App(services, outbox)

    return start


def staff() -> Actor:
    return Actor(STAFF, STAFF, first_name="Kim", language_code="en")


def data_of(reply: Reply, label_start: str) -> str:
    """Return the data of the first button whose label starts with `label_start`."""
    outs = ([reply.edit] if reply.edit else []) + reply.messages
    return next(
        b.data for o in outs for row in o.buttons for b in row if b.label.startswith(label_start)
    )


def to_slots(app: App) -> Reply:
    """Walk a new /meet to its slot buttons (Riverton, 60 minutes, next week)."""
    reply = app.command(staff(), "meet")
    reply = app.button(staff(), data_of(reply, "Riverton"))
    reply = app.button(staff(), data_of(reply, "60"))
    return app.button(staff(), data_of(reply, "Next week"))


def test_a_slot_button_of_an_older_meet_is_refused_and_changes_nothing(build: Any) -> None:
    app = build()
    older = to_slots(app)
    newer = to_slots(app)
    old_slot = older.edit.buttons[0][0].data  # type: ignore[union-attr]
    refused = app.button(staff(), old_slot)
    assert refused.toast == EXPIRED and refused.edit is None
    # the newer flow still stands at its slots
    title_step = app.button(staff(), newer.edit.buttons[0][0].data)  # type: ignore[union-attr]
    assert title_step.edit is not None and "title" in title_step.edit.text


def test_a_restart_between_two_meet_steps_resumes_the_flow(build: Any) -> None:
    first = build()
    reply = first.command(staff(), "meet")
    reply = first.button(staff(), data_of(reply, "Riverton"))
    restarted = build()  # new services and application on the same database
    reply = restarted.button(staff(), data_of(reply, "60"))
    assert reply.edit is not None and reply.edit.text == t("meet_week", "en")


def test_a_double_tap_on_book_books_once(build: Any, outbox: RecordingOutbox) -> None:
    app = build()
    slots = to_slots(app)
    title = app.button(staff(), slots.edit.buttons[0][0].data)  # type: ignore[union-attr]
    confirm = app.text(staff(), "Budget call")
    book = data_of(confirm, "✅")
    assert "Booked meeting #" in app.button(staff(), book).edit.text  # type: ignore[union-attr]
    assert app.button(staff(), book).toast == EXPIRED
    assert len(app.services.scheduling.list_upcoming()) == 1
    assert title.edit is not None


@pytest.mark.parametrize(
    "forged",
    [
        "v:99999999999999999999:1",
        "v:1:7",
        "sv:CODE:abc",
        "sv:",
        "m:p:abc",
        "m:w:99999999",
        "m:1:p:99",
        "m:1:p:-1",
        "m:99999:ok:-",
        "esc:ans:abc",
        "esc:ans:99999",
        "esc:ans:999999999999",  # past PostgreSQL's integer
        "m:999999999999:ok:-",
        "cur:999999999999:public",
        "up:999999999999:public",
        "v:999999999999:1",
        "v:²:1",
        "cur:1:partner",
        "cur:1:public",
        "up:1:public",
        "lang:xx",
        "nothing-we-know",
        "",
    ],
)
def test_forged_button_data_is_refused_without_an_error(build: Any, forged: str) -> None:
    reply = build().button(staff(), forged)
    assert reply.toast == EXPIRED and reply.edit is None and not reply.messages


def test_a_survey_comment_prompt_survives_a_restart(build: Any, outbox: RecordingOutbox) -> None:
    app = build()
    webinar = app.services.webinars.create("Transit forum", date(2026, 11, 30), "en", STAFF)
    app.command(Actor(ATTENDEE, ATTENDEE), "start", f"w_{webinar.code}")
    app.command(staff(), "survey", webinar.code)
    rating = outbox.to(ATTENDEE)[-1]
    app.button(Actor(ATTENDEE, ATTENDEE), rating.buttons[0][4].data)
    prompt_id = len(outbox.sent)  # the recording outbox numbers messages 1, 2, ...
    assert outbox.sent[-1].force_reply
    restarted = build()
    reply = restarted.text(Actor(ATTENDEE, ATTENDEE), "Very useful, thanks.", reply_to=prompt_id)
    assert reply.messages[0].text == t("survey_comment_thanks", "en")
    assert restarted.services.escalations.pending() == []
    assert restarted.services.surveys.results(webinar.code).comments == ("Very useful, thanks.",)


def add_fares(app: App, tmp_path: Path) -> None:
    """Ingest one public English document: what a single bus ride costs."""
    write(
        tmp_path / "kb" / "fares.md",
        "---\ntitle: Bus fares\nvisibility: public\nlanguage: en\n---\n"
        "# Fares\n\nA single bus ride in Hanbit costs 1,500 won with the transit card.\n",
    )
    app.services.ingestor.ingest([tmp_path / "kb"])


def test_a_former_attendee_of_a_closed_webinar_still_gets_public_answers(
    build: Any, tmp_path: Path
) -> None:
    app = build()
    add_fares(app, tmp_path)
    webinar = app.services.webinars.create("Transit forum", date(2026, 11, 30), "en", STAFF)
    attendee = Actor(ATTENDEE, ATTENDEE)
    app.command(attendee, "start", f"w_{webinar.code}")
    app.command(staff(), "webinar", f"close {webinar.code}")
    reply = app.text(attendee, "How much does a single bus ride cost?")
    answer = reply.messages[0].answer
    assert answer is not None and answer.grounded and "1,500" in answer.text


def test_an_unanswered_question_is_one_message_that_says_it_went_to_the_office(
    build: Any, tmp_path: Path, outbox: RecordingOutbox
) -> None:
    app = build()
    add_fares(app, tmp_path)
    reply = app.text(Actor(PUBLIC, PUBLIC), "Who designed the new hydrogen tram depot in Riverton?")
    (out,) = reply.messages  # one request of Telegram's budget, one notification
    assert out.answer is not None and not out.answer.grounded
    assert out.answer.text.endswith("\n\n" + app.questions.t("escalated", "en"))
    assert [b.data[:2] for b in out.buttons[0]] == ["v:", "v:"], "votes under the whole message"
    (item,) = [p.item for p in app.services.escalations.pending()]
    assert item.question.startswith("Who designed")
    assert [o.chat_id for o in outbox.sent] == [STAFF]


def test_a_staff_meeting_sentence_is_a_meeting_not_a_question(build: Any) -> None:
    reply = build().text(
        staff(), "meeting with Riverton next Wednesday 10am their time for 45 minutes"
    )
    out = reply.messages[0]
    assert out.answer is None, "not answered as a question"
    # a confirmation, or the nearest valid times: both are buttons of a /meet flow
    assert out.buttons and all(b.data.startswith("m:") for row in out.buttons for b in row)


@pytest.mark.parametrize(
    "text",
    [
        "What time is the March call with Riverton, Korean time?",
        "리버턴과의 화상회의는 언제 했어요?",
        "Wann ist der nächste Termin mit Riverton?",
    ],
)
def test_a_staff_question_about_a_meeting_is_a_question(build: Any, text: str) -> None:
    # a meeting word and a partner city made it a meeting request that lacked its date
    out = build().text(staff(), text).messages[0]
    assert out.answer is not None, out.text


def test_the_question_rules_hold_for_every_front_end(build: Any) -> None:
    app = build()
    public = Actor(PUBLIC, PUBLIC)
    too_long = "x" * (app.services.settings.max_question_chars + 1)
    assert "characters" in app.text(public, too_long).messages[0].text
    assert app.command(public, "nope").messages[0].text == t("unknown_command", "en")


class Files:
    """The seam to Telegram's file download: each file id is some bytes."""

    def __init__(self, **files: bytes) -> None:
        self.files = files

    def fetch(self, file_id: str, target: Path) -> None:
        target.write_bytes(self.files[file_id])


class HeldFiles(Files):
    """Files whose download waits until the test lets it go."""

    def __init__(self, **files: bytes) -> None:
        super().__init__(**files)
        self.release = threading.Event()
        self.started = threading.Event()

    def fetch(self, file_id: str, target: Path) -> None:
        self.started.set()
        assert self.release.wait(60), "the test never released the download"
        super().fetch(file_id, target)


MINUTES_1 = b"---\ntitle: Minutes\nlanguage: en\n---\nThe first minutes say the budget is 10 won.\n"
MINUTES_2 = (
    b"---\ntitle: Minutes\nlanguage: en\n---\nThe second minutes say the budget is 20 won.\n"
)


def upload(app: App, files: Files, file_id: str, *presses: str, name: str = "minutes.md") -> Reply:
    """Send a file as staff and press buttons by label (first match) in turn."""
    reply = app.document(staff(), file_id, name, len(files.files[file_id]))
    for label in presses:
        reply = app.button(staff(), data_of(reply, label), files=files)
    return reply


def result(app: App, outbox: RecordingOutbox) -> str:
    """Wait for the upload jobs and return the last thing told to the staff member."""
    assert app.uploads.jobs.idle(120)
    return outbox.to(STAFF)[-1].text


def test_a_second_upload_of_the_same_name_asks_and_can_keep_both(
    build: Any, outbox: RecordingOutbox
) -> None:
    app, files = build(), Files(one=MINUTES_1, two=MINUTES_2)
    upload(app, files, "one", "Internal")
    result(app, outbox)
    question = app.document(staff(), "two", "minutes.md", len(MINUTES_2))
    assert "already in the knowledge base" in question.messages[0].text
    assert "Internal" in question.messages[0].text, "says who may see the one there"
    upload(app, files, "two", "Keep both", "Public")
    done = result(app, outbox)
    assert "minutes (2).md" in done and "stays as it was" in done
    docs = {d.source: d.visibility.value for d in app.services.store.documents()}
    assert docs == {"minutes.md": "internal", "minutes (2).md": "public"}


def test_replacing_an_upload_of_the_same_name_keeps_one_document(
    build: Any, outbox: RecordingOutbox
) -> None:
    app, files = build(), Files(one=MINUTES_1, two=MINUTES_2)
    upload(app, files, "one", "Internal")
    result(app, outbox)  # the first is in before the second is offered
    upload(app, files, "two", "Replace", "Public")
    result(app, outbox)
    docs = app.services.store.documents()
    assert [(d.source, d.visibility.value) for d in docs] == [("minutes.md", "public")]


def test_choosing_who_may_see_an_upload_answers_before_it_is_read(
    build: Any, outbox: RecordingOutbox
) -> None:
    app, files = build(), HeldFiles(one=MINUTES_1)
    offer = app.document(staff(), "one", "minutes.md", len(MINUTES_1))
    chosen: list[Reply] = []
    press = threading.Thread(
        target=lambda: chosen.append(app.button(staff(), data_of(offer, "Public"), files=files))
    )
    press.start()
    press.join(10)  # the download is held: only an answer that does not wait for it comes back
    assert chosen and chosen[0].remove_buttons, "the press waited for the download and ingest"
    told = outbox.to(STAFF)
    assert [o.text for o in told] == [
        t("upload_reading", "en", name="minutes.md", visibility="Public")
    ]
    assert files.started.wait(10)
    # the same name again while the first is read: it waits, rather than replace it unasked
    again = app.document(staff(), "one", "minutes.md", len(MINUTES_1))
    assert again.messages[0].text == t("upload_busy", "en", name="minutes.md")
    files.release.set()
    done = result(app, outbox)
    assert done == t("upload_done", "en", name="minutes.md", chunks=1, visibility="Public")
    assert len(outbox.to(STAFF)) == 2, "the acknowledgement, then the result"


def test_a_long_upload_says_how_far_it_is(
    make_services: Any, data: Path, outbox: RecordingOutbox
) -> None:
    app = App(make_services(data, staff_user_ids=[STAFF], embed_batch_size=2), outbox)
    app.uploads.progress_every_s = 0  # every batch, instead of every half minute
    body = b"---\ntitle: Long notes\nlanguage: en\n---\n" + b"\n\n".join(
        f"# Part {i}\n\nPart {i} of the notes covers topic number {i} in detail.".encode()
        for i in range(7)
    )
    files = Files(long=body)
    upload(app, files, "long", "Internal", name="long.md")
    done = result(app, outbox)
    told = [o.text for o in outbox.to(STAFF)]
    assert told[0].startswith("Reading “long.md”") and told[-1] == done
    progress = told[1:-1]
    assert progress and all("passages done" in p for p in progress), told
    assert "7 passages" in done


def test_the_size_cap_holds_for_the_bytes_received_not_the_size_declared(
    make_services: Any, data: Path, outbox: RecordingOutbox
) -> None:
    app = App(make_services(data, staff_user_ids=[STAFF], max_upload_mb=1), outbox)
    body = b"---\ntitle: Padding\n---\n" + b"word " * (300 * 1024)  # 1.5 MB
    files = Files(big=body)
    reply = app.document(staff(), "big", "padding.txt", 1000)  # Telegram said 1000 bytes
    app.button(staff(), data_of(reply, "Internal"), files=files)
    assert result(app, outbox) == t("upload_too_large", "en", limit=1)
    assert app.services.store.documents() == []
    assert not any(p.is_file() for p in (data / "uploads").rglob("*")), "nothing is kept"


@pytest.mark.parametrize("stem", ["m" * 300, "회의록" * 100], ids=["ascii", "korean"])
def test_a_300_character_file_name_is_shortened_and_keeps_its_extension(
    build: Any, outbox: RecordingOutbox, stem: str
) -> None:
    app, files = build(), Files(one=MINUTES_1, two=MINUTES_2)
    name = stem + ".md"
    upload(app, files, "one", "Internal", name=name)
    done = result(app, outbox)
    (doc,) = app.services.store.documents()
    assert doc.source.endswith("….md") and len(doc.source.encode()) <= 200
    assert doc.source in done and "1 passages" in done
    # the same long name again: asked whether to replace it or keep both, then kept as (2)
    question = app.document(staff(), "two", name, len(MINUTES_2))
    assert "already in the knowledge base" in question.messages[0].text
    upload(app, files, "two", "Keep both", "Public", name=name)
    assert "(2).md" in result(app, outbox)
    assert len(app.services.store.documents()) == 2


def test_an_upload_cut_short_by_a_shutdown_tells_the_uploader(
    build: Any, outbox: RecordingOutbox
) -> None:
    app, files = build(), HeldFiles(one=MINUTES_1)
    upload(app, files, "one", "Public")
    assert files.started.wait(10)
    closing = threading.Thread(target=app.close)
    closing.start()
    files.release.set()  # the download ends after the bot began to stop
    closing.join(30)
    assert not closing.is_alive()
    assert outbox.to(STAFF)[-1].text == t("upload_interrupted", "en", name="minutes.md")
    assert app.services.store.documents() == []


def test_an_upload_cut_short_by_a_crash_is_reported_after_the_restart(
    build: Any, outbox: RecordingOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.uploads.READING_LEASE", timedelta(seconds=1))
    crashed, files = build(), HeldFiles(one=MINUTES_1)
    upload(crashed, files, "one", "Public")
    assert files.started.wait(10)  # held in the download when the process "dies"
    time.sleep(1.2)
    assert crashed.recover_uploads() == 0, "a process's own upload in hand is not lost"
    alive = len(outbox.to(STAFF))
    time.sleep(1.2)
    restarted = build()  # the crashed process never touches its upload again
    assert restarted.recover_uploads() == 1
    assert outbox.to(STAFF)[-1].text == t("upload_lost", "en", name="minutes.md")
    assert len(outbox.to(STAFF)) == alive + 1
    assert build().recover_uploads() == 0, "told once, whichever process finds it"
    assert restarted.services.store.documents() == []
    files.release.set()  # let the "dead" process's job end instead of outliving the test
    crashed.close()


def test_an_upload_read_to_its_end_is_not_reported_lost(
    build: Any, outbox: RecordingOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.uploads.READING_LEASE", timedelta(0))
    app, files = build(), Files(one=MINUTES_1)
    upload(app, files, "one", "Public")
    assert "1 passages" in result(app, outbox)
    assert build().recover_uploads() == 0


def test_a_public_upload_whose_front_matter_names_a_webinar_is_public(
    build: Any, outbox: RecordingOutbox
) -> None:
    app = build()
    body = (
        b"---\ntitle: Fares\nwebinar: w-old\nlanguage: en\n---\n"
        b"A single bus ride in Hanbit costs 1,500 won with the transit card.\n"
    )
    files = Files(one=body)
    reply = app.document(staff(), "one", "fares.md", len(body))
    app.button(staff(), data_of(reply, "Public"), files=files)
    assert "Public" in result(app, outbox)
    (doc,) = app.services.store.documents()
    assert (doc.visibility.value, doc.webinar) == ("public", "")
    answer = app.text(Actor(PUBLIC, PUBLIC), "How much does a single bus ride cost?")
    assert "1,500" in answer.messages[0].answer.text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "command",
    [
        "cancel 999999999999",
        "reschedule ² 2026-12-08T10:00",
        "reply 999999999999 hi",
        "assign 999999999999 100",
        "revoke 9999999999999999999",
        "reply ² hi",
    ],
)
def test_an_id_no_row_can_have_is_a_usage_message_not_an_error(build: Any, command: str) -> None:
    name, _, args = command.partition(" ")
    reply = build().command(staff(), name, args)
    assert reply.messages and reply.messages[0].text


@pytest.mark.parametrize(
    "command", ["invite " + "Riverton" * 40, "grouplevel partner " + "Riverton" * 40]
)
def test_a_city_name_longer_than_any_city_gets_the_usage_line(
    make_services: Any, data: Path, outbox: RecordingOutbox, database_url: str, command: str
) -> None:
    services = make_services(
        data, partners_file=PARTNERS, admin_user_ids=[STAFF], database_url=database_url
    )
    name, _, args = command.partition(" ")
    group = name == "grouplevel"
    admin = Actor(STAFF, -500 if group else STAFF, group, language_code="en")
    (out,) = App(services, outbox).command(admin, name, args).messages
    assert "Usage" in out.text, out.text

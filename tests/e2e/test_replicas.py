"""Two `exchange-bot run` processes behind one webhook (the test is their load balancer), sharing
one PostgreSQL and one `chroma run` server, with the Bot API emulator as Telegram.

Each race case was seen to fail with its guard taken out (2026-12-01): the inbox claim without
its lease condition (200 questions: 6-10 answers per user instead of 5), invite redemption as a
read then a write (both partners welcomed), the meetings' exclusion constraint dropped (two
meetings), reminders read, sent and then marked instead of claimed (each invitee reminded twice),
and expired inbox leases never taken over (the killed process's questions never answered).
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from bot.services import build_services
from tests.conftest import ROOT, make_settings, write
from tests.e2e.test_bot import DOCS, buttons, reply_to, upload_result

from .emulator import BotApiEmulator
from .replicas import TOKEN, ChromaServer, Cluster, Replica

STAFF, STAFF2, ADMIN = 100, 101, 1
REVIEW = ("How often is the Riverton agreement reviewed?", "three years")
CONTACT = ("Who is the contact in Riverton?", "Dana Whitfield")


class Deployment:
    """The emulator, the Chroma server and the two processes a and b."""

    def __init__(
        self, emu: BotApiEmulator, chroma: ChromaServer, cluster: Cluster, root: Path
    ) -> None:
        self.emu, self.chroma, self.cluster, self.root = emu, chroma, cluster, root
        self.a, self.b = cluster.replicas
        self.engine = create_engine(cluster.database_url)
        self._scheduling: SchedulingService | None = None

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run one statement on the shared database (read past the bot); return its rows."""
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def scheduling(self) -> SchedulingService:
        """The scheduling service on the shared database, as `exchange-bot meetings` uses it."""
        if self._scheduling is None:
            url = self.cluster.database_url
            self._scheduling = SchedulingService.from_settings(
                make_settings(self.root / "ingest", database_url=url),
                open_database(url),
                partners_file=ROOT / "knowledge" / "partners.yaml",
            )
        return self._scheduling

    def close(self) -> None:
        if self._scheduling is not None:
            self._scheduling.db.close()
        self.engine.dispose()


@pytest.fixture(scope="module")
def deployment(
    postgres, tmp_path_factory: pytest.TempPathFactory, embedder, analyzer
) -> Iterator[Deployment]:  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("replicas")
    url = postgres.new_database()
    with (
        BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot") as emu,
        ChromaServer(root / "chroma") as chroma,
    ):
        # the office ingested its documents once (`exchange-bot ingest`, here in this process)
        for name, text in DOCS.items():
            write(root / "kb" / name, text)
        settings = make_settings(
            root / "ingest", database_url=url, chroma_host="127.0.0.1", chroma_port=chroma.port
        )
        services = build_services(settings, embedder=embedder, analyzer=analyzer)
        assert services.ingestor.ingest([root / "kb"]).added == len(DOCS)
        services.close()
        emu.user(STAFF, "Kim", "en")
        emu.user(STAFF2, "Lee", "en")
        emu.user(ADMIN, "Admin", "en")
        # two processes with empty data dirs: everything they share is in PostgreSQL and Chroma;
        # reminders looked for every second, a dead process's updates taken over after 5 s
        cluster = Cluster(
            emu,
            url,
            chroma.port,
            root,
            STAFF_USER_IDS=f"{STAFF},{STAFF2}",
            ADMIN_USER_IDS=str(ADMIN),
            REMINDER_POLL_S="1",
            INBOX_LEASE_S="5",
        )
        cluster.start("a", "b")
        deployment = Deployment(emu, chroma, cluster, root)
        try:
            yield deployment
        finally:
            logs = cluster.stop()
            deployment.close()
    for name, log in logs.items():
        assert "Traceback" not in log, f"{name}:\n{log[-3000:]}"
        assert TOKEN not in log, "the bot token must never reach the logs"


def test_each_process_answers_healthz_and_readyz_and_names_itself_in_its_log(
    deployment: Deployment,
) -> None:
    for replica in (deployment.a, deployment.b):
        assert replica.get("/healthz") == (200, {"status": "alive", "process": replica.name})
        assert replica.get("/readyz") == (200, {"status": "ready", "process": replica.name})
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}}
        assert replica.push(update, secret="wrong") == 403
        assert f"[{replica.name}] bot.telegram.webhook: ready" in replica.log_text()


def test_questions_from_several_users_are_answered_once_each_through_both_processes(
    deployment: Deployment,
) -> None:
    emu, cluster = deployment.emu, deployment.cluster
    users = range(9100, 9110)
    for round_, (question, _) in enumerate((REVIEW, CONTACT), start=1):
        for user in users:
            emu.send_text(user, question)
        sent = cluster.deliver()  # the balancer: a, b, a, b, ...
        assert {replica.name for _, replica in sent} == {"a", "b"}
        cluster.wait(
            lambda n=round_: all(len(cluster.answers(u)) >= n for u in users),
            what=f"round {round_} answered",
        )
    time.sleep(1.0)  # an answer sent twice would arrive by now
    for user in users:
        texts = [r["text"] for r in cluster.answers(user)]
        assert len(texts) == 2, f"user {user} got {len(texts)} answers"
        assert REVIEW[1] in texts[0] and CONTACT[1] in texts[1]
    answered = {r.name: r.log_text().count("answered: grounded=") for r in cluster.replicas}
    assert sum(answered.values()) == 2 * len(users) and all(answered.values()), answered


def test_a_document_uploaded_through_one_process_is_cited_by_the_other_within_10_s(
    deployment: Deployment,
) -> None:
    emu, cluster, a, b = deployment.emu, deployment.cluster, deployment.a, deployment.b
    body = (
        b"---\ntitle: Tramway exchange plan\nlanguage: en\n---\n# Tram drivers\n\n"
        b"Twelve tram drivers from Riverton train in Hanbit's depot for six weeks in October.\n"
    )
    mark = emu.mark()
    emu.send_document(STAFF, "tramway.md", body)
    cluster.deliver(to=a)
    prompt = emu.wait_for(
        lambda r: r["chat_id"] == STAFF and bool(r.get("reply_markup")), 30, since=mark
    )
    data = [x["callback_data"] for row in prompt["reply_markup"]["inline_keyboard"] for x in row]
    mark = emu.mark()
    emu.press_button(STAFF, prompt["message_id"], next(d for d in data if d.endswith(":public")))
    cluster.deliver(to=a)
    upload_result(emu, STAFF, "tramway.md", mark)
    stored = time.monotonic()
    while True:  # ask through the other process until it cites the new document
        asked = len(cluster.answers(9300))
        emu.send_text(9300, "How long do the Riverton tram drivers train in Hanbit's depot?")
        cluster.deliver(to=b)
        cluster.wait(lambda n=asked: len(cluster.answers(9300)) > n, what="an answer")
        answer = cluster.answers(9300)[-1]["text"]
        if "Tramway exchange plan" in answer:
            break
        assert time.monotonic() - stored < 10, f"not cited by b within 10 s: {answer}"
    assert "six weeks" in answer
    assert time.monotonic() - stored < 10


def test_a_process_of_another_embedding_centering_refuses_and_the_store_is_intact(
    deployment: Deployment,
) -> None:
    emu, cluster = deployment.emu, deployment.cluster
    before = deployment.chroma.vectors()
    assert sum(before.values()) > 0
    other = cluster.spawn("c", EMBEDDING_CENTERING="0.5")
    assert other.wait_exit(180) == 1
    log = other.log_text()
    assert "EMBEDDING_CENTERING=0.5" in log and "EMBEDDING_CENTERING=1" in log, log[-2000:]
    assert "nothing was deleted" in log
    assert deployment.chroma.vectors() == before
    for user in (9401, 9402):  # both still answer from the store, one question each
        emu.send_text(user, REVIEW[0])
    cluster.deliver(together=True)
    cluster.wait(lambda: all(cluster.answers(u) for u in (9401, 9402)), what="answers")
    assert all(REVIEW[1] in cluster.answers(u)[0]["text"] for u in (9401, 9402))


@contextmanager
def writes_held(d: Deployment, table: str, writers: int = 2) -> Iterator[None]:
    """Hold every write to `table` until `writers` wait on it, then let them go together.

    "At the same moment", made exact: each process has read the table (the invite is unused, the
    slot is free) and waits to write; only the database's guard (the conditional UPDATE, the
    exclusion constraint) can now keep the second from going through.
    """
    waiting = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = :t AND NOT l.granted"
    )
    with d.engine.connect() as conn:
        held = conn.begin()
        conn.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))  # reads pass, writes wait
        try:
            yield
            d.cluster.wait(
                lambda: d.sql(waiting, t=table)[0][0] >= writers,
                timeout=30,
                what=f"{writers} writes to {table} waiting together",
            )
        finally:
            held.commit()


def ask(d: Deployment, user: int, words: str, to: Replica, markup: bool = False) -> dict:  # type: ignore[type-arg]
    """Send a message through one process; return the bot's reply."""
    mark = d.emu.mark()
    d.emu.send_text(user, words)
    d.cluster.deliver(to=to)
    return reply_to(d.emu, user, mark, markup=markup)


def press(d: Deployment, user: int, message_id: int, data: str, to: Replica) -> dict:  # type: ignore[type-arg]
    """Press an inline button through one process; return the message as edited."""
    edits = len(d.emu.edited)
    d.emu.press_button(user, message_id, data)
    d.cluster.deliver(to=to)
    return d.emu.wait_for_edit(
        lambda r: r["chat_id"] == user and r["message_id"] == message_id, since=edits, timeout=30
    )


def texts_to(emu: BotApiEmulator, chat: int, since: int = 0) -> list[str]:
    return [r.get("text", "") for r in emu.sent[since:] if r["chat_id"] == chat]


def answer_counts(cluster: Cluster, users: range) -> Counter[int]:
    return Counter({u: len(cluster.answers(u)) for u in users})


def test_200_questions_from_40_users_through_both_processes_are_each_answered_once(
    deployment: Deployment,
) -> None:
    emu, cluster = deployment.emu, deployment.cluster
    users = range(9200, 9240)
    asked = [REVIEW, CONTACT, REVIEW, CONTACT, REVIEW]
    for question, _ in asked:  # 5 rounds of 40: each user's questions go to a, b, a, ... in turn
        for user in users:
            emu.send_text(user, question)
    sent = cluster.deliver()
    assert len(sent) == 200
    by_process = Counter(replica.name for _, replica in sent)
    assert by_process == {"a": 100, "b": 100}, by_process
    cluster.wait(
        lambda: all(n >= len(asked) for n in answer_counts(cluster, users).values()),
        timeout=120,
        what="200 questions answered",
    )
    time.sleep(2.0)  # an answer sent twice (two processes taking one update) would arrive by now
    counts = answer_counts(cluster, users)
    wrong = {u: n for u, n in counts.items() if n != len(asked)}
    assert not wrong, f"answers per user, expected {len(asked)} each: {wrong}"
    for user in users:  # each in its sender's order, whichever process answered it
        texts = [r["text"] for r in cluster.answers(user)]
        assert all(fact in t for (_, fact), t in zip(asked, texts, strict=True)), (user, texts)
    handled = {r.name: r.log_text().count("answered: grounded=") for r in cluster.live()}
    assert all(handled.values()), f"both processes answered some: {handled}"


def test_two_partners_redeeming_one_invite_at_the_same_moment_give_one_partner_and_one_refusal(
    deployment: Deployment,
) -> None:
    emu, cluster, a = deployment.emu, deployment.cluster, deployment.a
    invite = ask(deployment, ADMIN, "/invite Riverton", to=a)["text"]
    code = invite.split("start=join_")[1].split()[0]
    people = (9601, 9602)
    for user in people:
        emu.user(user, f"Official {user}", "en")
    mark = emu.mark()
    for user in people:
        emu.send_text(user, f"/start join_{code}")
    with writes_held(deployment, "invites"):
        sent = cluster.deliver(together=True)  # one to each process, at the same moment
    assert {replica.name for _, replica in sent} == {"a", "b"}
    cluster.wait(
        lambda: all(texts_to(emu, u, mark) for u in people), timeout=30, what="both replies"
    )
    time.sleep(1.0)
    welcome, refusal = "registered as an official of Riverton", "already been used"
    welcomed = [u for u in people if any(welcome in t for t in texts_to(emu, u, mark))]
    refused = [u for u in people if any(refusal in t for t in texts_to(emu, u, mark))]
    assert len(welcomed) == 1 and len(refused) == 1 and welcomed != refused, {
        u: texts_to(emu, u, mark) for u in people
    }
    rows = deployment.sql("SELECT user_id, partner_city FROM users WHERE user_id IN (9601, 9602)")
    partners = {user for user, city in rows if city == "Riverton"}
    assert partners == set(welcomed), rows
    used = deployment.sql("SELECT used_by FROM invites WHERE code = :c", c=code)
    assert used == [(welcomed[0],)]


def walk_meet(d: Deployment, staff: int, title: str, to: Replica) -> tuple[dict, str]:  # type: ignore[type-arg]
    """Walk /meet through one process to the confirmation of the first slot next week with
    Riverton; return the confirmation and the slot's text."""
    prompt = ask(d, staff, "/meet", to, markup=True)
    message = prompt["message_id"]
    step = press(d, staff, message, next(c for t, c in buttons(prompt) if t == "Riverton"), to)
    step = press(d, staff, message, next(c for t, c in buttons(step) if t.startswith("60")), to)
    step = press(d, staff, message, next(c for t, c in buttons(step) if t == "Next week"), to)
    slot_text, slot = buttons(step)[0]
    press(d, staff, message, slot, to)
    return ask(d, staff, title, to, markup=True), slot_text


def test_two_overlapping_bookings_at_the_same_moment_give_one_meeting_and_one_refusal(
    deployment: Deployment,
) -> None:
    emu, cluster, a, b = deployment.emu, deployment.cluster, deployment.a, deployment.b
    first, first_slot = walk_meet(deployment, STAFF, "Race call one", to=a)
    second, second_slot = walk_meet(deployment, STAFF2, "Race call two", to=b)
    assert first_slot == second_slot, "both are about to book the same slot"
    edits = len(emu.edited)
    for staff, confirm in ((STAFF, first), (STAFF2, second)):
        emu.press_button(
            staff, confirm["message_id"], next(c for t, c in buttons(confirm) if "Book" in t)
        )
    with writes_held(deployment, "meetings"):  # both found the slot free, both insert
        sent = cluster.deliver(together=True)  # the two Book presses, one to each process
    assert {replica.name for _, replica in sent} == {"a", "b"}

    def outcome(staff: int, confirm: dict) -> str | None:  # type: ignore[type-arg]
        edited = [
            r
            for r in emu.edited[edits:]
            if r["chat_id"] == staff and r["message_id"] == confirm["message_id"]
        ]
        return edited[-1]["text"] if edited else None

    cluster.wait(
        lambda: outcome(STAFF, first) is not None and outcome(STAFF2, second) is not None,
        timeout=30,
        what="both bookings decided",
    )
    results = [outcome(STAFF, first) or "", outcome(STAFF2, second) or ""]
    booked = [t for t in results if "Booked meeting #" in t]
    refused = [t for t in results if "overlaps" in t]
    assert len(booked) == 1 and len(refused) == 1, results
    rows = deployment.sql(
        "SELECT title FROM meetings WHERE status = 'booked' AND title LIKE 'Race call %'"
    )
    assert len(rows) == 1, rows
    assert rows[0][0] in booked[0]
    logs = "".join(r.log_text() for r in cluster.live())
    assert "lost the race to another booking" in logs, "the database decided, not a check"


def book_direct(d: Deployment, title: str, people: list[int]) -> Any:
    """Book a meeting with Riverton on the shared database (as `exchange-bot meetings book`),
    organised by the first person, the others invited; return it."""
    service = d.scheduling()
    riverton = service.directory.get("Riverton")
    today = service.now().astimezone(service.home.tz).date()
    slot = service.slots(riverton, today + timedelta(days=14), days=14, duration=30)[-1]
    for user in people:
        d.emu.user(user, f"Person {user}", "en")
    return service.book(
        riverton,
        slot.start,
        30,
        title,
        organizer=Invitee(people[0], "en", service.home.timezone),
        invitees=[Invitee(u, "en", riverton.timezone) for u in people[1:]],
    )


def make_due(d: Deployment, meeting_id: int, at: datetime) -> None:
    """Move a meeting's earliest reminder (its longest offset) to `at`."""
    d.sql(
        "UPDATE meeting_reminders SET due_at = :at WHERE meeting_id = :m AND offset_minutes ="
        " (SELECT max(offset_minutes) FROM meeting_reminders WHERE meeting_id = :m)",
        at=at,
        m=meeting_id,
    )


def question_index(deployment: Deployment, sender: int, body: Any) -> int:
    """The place of an inbox row's update among its sender's updates (0: the first asked)."""
    mine = sorted(
        _message_id(b)
        for (b,) in deployment.sql("SELECT body FROM inbox WHERE sender = :s", s=sender)
    )
    return mine.index(_message_id(body))


def _message_id(body: Any) -> int:
    return int((body if isinstance(body, dict) else json.loads(body))["message"]["message_id"])


def reminders_to(emu: BotApiEmulator, user: int, url: str) -> list[str]:
    return [t for t in texts_to(emu, user) if t.startswith("Reminder") and url in t]


def test_a_meetings_reminder_due_during_the_test_reaches_each_invitee_once(
    deployment: Deployment,
) -> None:
    emu, cluster = deployment.emu, deployment.cluster
    people = [9701, 9702, 9703]
    meeting = book_direct(deployment, "Reminder check", people)
    make_due(deployment, meeting.id, datetime.now(UTC) + timedelta(seconds=2))
    # both processes find it due and write (claim it, or mark it sent) at the same moment
    with writes_held(deployment, "meeting_reminders"):
        pass
    cluster.wait(
        lambda: all(reminders_to(emu, u, meeting.video_url) for u in people),
        timeout=30,
        what="the reminder",
    )
    time.sleep(3.0)  # each process polls every second: a second send would be here by now
    counts = {u: len(reminders_to(emu, u, meeting.video_url)) for u in people}
    assert counts == dict.fromkeys(people, 1), counts
    statuses = deployment.sql(
        "SELECT status FROM meeting_reminders WHERE meeting_id = :m ORDER BY offset_minutes DESC",
        m=meeting.id,
    )
    assert statuses[0] == ("sent",) and all(s == ("pending",) for s in statuses[1:]), statuses


def test_a_process_killed_during_a_burst_leaves_no_question_unanswered_nor_a_reminder_unsent_or_doubled(
    deployment: Deployment,
) -> None:
    emu, cluster, b = deployment.emu, deployment.cluster, deployment.b
    before = book_direct(deployment, "Kill check before", [9801, 9802, 9803])
    after = book_direct(deployment, "Kill check after", [9804, 9805])
    users = range(9810, 9830)
    asked = [REVIEW, CONTACT, REVIEW]
    for question, _ in asked:
        for user in users:
            emu.send_text(user, question)
    make_due(deployment, before.id, datetime.now(UTC))  # due as the burst begins
    cluster.deliver()  # 60 questions, a, b, a, ...
    total = len(asked) * len(users)
    cluster.wait(
        lambda: sum(answer_counts(cluster, users).values()) >= 8, timeout=60, what="a few answers"
    )
    in_hand = deployment.sql(
        "SELECT count(*) FROM inbox WHERE done_at IS NULL AND claimed_by LIKE :owner",
        owner=f"%:{b.proc.pid}:%",
    )[0][0]
    b.kill()
    time.sleep(0.3)  # a request b sent as it died is recorded by the emulator by now
    at_kill = answer_counts(cluster, users)
    # what b left claimed and not done (its 5 s leases still run): those it had answered go
    # out again, once: the kill fell between their send and their record (README)
    left = deployment.sql(
        "SELECT sender, body FROM inbox WHERE done_at IS NULL AND claimed_by LIKE :owner",
        owner=f"%:{b.proc.pid}:%",
    )
    make_due(deployment, after.id, datetime.now(UTC) + timedelta(seconds=1))  # due once b died
    assert in_hand > 0 and sum(at_kill.values()) < total, "b died holding no update: kill earlier"
    again = Counter(
        sender
        for sender, body in left
        if question_index(deployment, sender, body) < at_kill[sender]
    )
    cluster.wait(
        lambda: all(n >= len(asked) for n in answer_counts(cluster, users).values()),
        timeout=90,
        what="every question answered by a",
    )
    people = {9801: before, 9802: before, 9803: before, 9804: after, 9805: after}
    cluster.wait(
        lambda: all(reminders_to(emu, u, m.video_url) for u, m in people.items()),
        timeout=30,
        what="both reminders",
    )
    time.sleep(3.0)
    counts = answer_counts(cluster, users)
    missing = {u: n for u, n in counts.items() if n < len(asked)}
    doubled = {u: n - len(asked) for u, n in counts.items() if n > len(asked)}
    assert not missing, missing
    # exactly the answers b sent and had not recorded go twice; nothing else does
    assert doubled == dict(again), (doubled, again)
    reminded = {u: len(reminders_to(emu, u, m.video_url)) for u, m in people.items()}
    assert reminded == dict.fromkeys(people, 1), reminded
    # b's successor starts on the same database: it sends nothing again, and answers
    (b2,) = cluster.start("b2")
    deployment.b = b2
    time.sleep(2.5)  # b2 polled for reminders twice
    reminded = {u: len(reminders_to(emu, u, m.video_url)) for u, m in people.items()}
    assert reminded == dict.fromkeys(people, 1), reminded
    assert answer_counts(cluster, users) == counts
    assert deployment.sql("SELECT count(*) FROM inbox WHERE done_at IS NULL")[0][0] == 0


def test_sigterm_finishes_the_updates_in_hand_before_the_process_ends(
    deployment: Deployment,
) -> None:
    emu, cluster, b = deployment.emu, deployment.cluster, deployment.b
    users = range(9500, 9512)
    for user in users:
        emu.send_text(user, REVIEW[0])
    cluster.deliver(to=b)  # each stored in the inbox before its 200
    b.proc.send_signal(signal.SIGTERM)
    in_hand = sum(not cluster.answers(u) for u in users)
    assert b.wait_exit(60) == 0
    assert in_hand > 0, "the signal came after every answer: nothing was in hand"
    assert all(len(cluster.answers(u)) == 1 for u in users), "every update in hand was answered"
    assert "stopping: finishing the updates in hand" in b.log_text()
    emu.send_text(9599, REVIEW[0])
    cluster.deliver()
    cluster.wait(lambda: bool(cluster.answers(9599)), what="an answer from a")

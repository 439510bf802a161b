"""Two `exchange-bot run` processes behind one webhook (the test is their load balancer), sharing
one PostgreSQL and one `chroma run` server, with the Bot API emulator as Telegram."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import build_services
from tests.conftest import make_settings, write
from tests.e2e.test_bot import DOCS, upload_result

from .emulator import BotApiEmulator
from .replicas import TOKEN, ChromaServer, Cluster

STAFF, ADMIN = 100, 1
REVIEW = ("How often is the Riverton agreement reviewed?", "three years")
CONTACT = ("Who is the contact in Riverton?", "Dana Whitfield")


class Deployment:
    """The emulator, the Chroma server and the two processes a and b."""

    def __init__(self, emu: BotApiEmulator, chroma: ChromaServer, cluster: Cluster) -> None:
        self.emu, self.chroma, self.cluster = emu, chroma, cluster
        self.a, self.b = cluster.replicas


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
        # two processes with empty data dirs: everything they share is in PostgreSQL and Chroma
        cluster = Cluster(
            emu, url, chroma.port, root, STAFF_USER_IDS=str(STAFF), ADMIN_USER_IDS=str(ADMIN)
        )
        cluster.start("a", "b")
        try:
            yield Deployment(emu, chroma, cluster)
        finally:
            logs = cluster.stop()
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

"""The command-line contract other tools script: names, JSON shape, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.evaluation import first_quote
from tests.conftest import bare_env, write

DOC = (
    "---\ntitle: Riverton sister-city agreement\nvisibility: public\npartner: Riverton\nlanguage: en\n---\n"
    "# Article 5 Review\n\nThe parties review this agreement every three years at a joint meeting.\n"
)
SECRET = "---\ntitle: Budget note\nvisibility: internal\nlanguage: en\n---\nThe reserve for Riverton is 9,900,000 won.\n"


def run(*args: str, data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = bare_env()
    return subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write(root / "kb" / "agreements" / "riverton.md", DOC)
    write(root / "kb" / "budget.md", SECRET)
    result = run("ingest", str(root / "kb"), data=root / "data")
    assert result.returncode == 0, result.stderr
    assert "files: 2 (new 2" in result.stdout
    return root / "data"


def test_ask_json_has_the_documented_fields(ingested: Path) -> None:
    result = run("ask", "--json", "How often is the Riverton agreement reviewed?", data=ingested)
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert {"question", "answer", "grounded", "language", "sources", "latency_ms"} <= obj.keys()
    assert obj["grounded"] is True and obj["language"] == "en"
    assert "three years" in obj["answer"]
    src = obj["sources"][0]
    assert {"n", "source", "title", "text", "score", "visibility"} <= src.keys()
    assert src["n"] == 1 and src["source"] == "agreements/riverton.md"
    assert src["text"].startswith("The parties review")


def test_ask_dash_answers_each_stdin_line_as_json_lines(ingested: Path) -> None:
    stdin = "How often is the Riverton agreement reviewed?\n\nWhat is the reserve for Riverton?\n"
    result = run("ask", "--json", "--role", "public", "-", data=ingested, stdin=stdin)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    assert "9,900,000" not in lines[1]["answer"]
    assert all(s["visibility"] == "public" for line in lines for s in line["sources"])


def test_plain_ask_prints_the_answer_and_its_sources(ingested: Path) -> None:
    result = run("ask", "How often is the Riverton agreement reviewed?", data=ingested)
    assert result.returncode == 0
    assert "Sources:" in result.stdout and "(agreements/riverton.md)" in result.stdout


def test_eval_reports_metrics_per_language(ingested: Path, tmp_path: Path) -> None:
    qs = tmp_path / "q.jsonl"
    qs.write_text(
        json.dumps(
            {
                "id": "1",
                "question": "How often is the Riverton agreement reviewed?",
                "language": "en",
                "expected_source": "agreements/riverton.md",
                "answer_contains": ["three years"],
                "answerable": True,
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "2",
                "question": "What is the population of Paris?",
                "language": "en",
                "expected_source": None,
                "answer_contains": [],
                "answerable": False,
            }
        )
        + "\n",
        "utf-8",
    )
    result = run("eval", str(qs), "--k", "3", "--json", data=ingested)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    row = report["groups"]["en"]
    assert row["hit@1"] == 1.0 and row["recall@k"] == 1.0 and row["decline_acc"] == 1.0
    assert row["answer_hit"] == 1.0 and row["first_hit"] == 1.0
    assert report["k"] == 3


def test_an_answers_first_quote_is_read_past_its_language_line() -> None:
    text = "Quoted from the documents, which are in Korean:\n첫 문장 [2] 둘째 문장 [1]"
    assert first_quote(text) == "첫 문장"
    assert first_quote("One. [1] Two. [3]") == "One."
    assert first_quote("Nothing marked") == "Nothing marked"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("ask", "--role", "wizard", "x"), "invalid choice"),
        (("ask", "--role", "partner", "x"), "--partner"),
        (("ingest", "/no/such/path"), "no such file"),
        (("eval", "/no/such.jsonl"), "no such file"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(
    ingested: Path, args: tuple[str, ...], needle: str
) -> None:
    result = run(*args, data=ingested)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_asking_an_empty_store_says_to_ingest_first(tmp_path: Path) -> None:
    result = run("ask", "anything?", data=tmp_path / "empty")
    assert result.returncode == 1
    assert "empty" in result.stderr and "ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_names_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "RETRIEVAL_TOP_K": "zero"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(tmp_path), "ask", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "RETRIEVAL_TOP_K" in result.stderr and "Traceback" not in result.stderr


def test_the_console_chat_runs_the_same_commands_and_meeting_sentences_as_telegram(
    ingested: Path,
) -> None:
    lines = [
        "/help",
        "meeting with Riverton next Wednesday 10am their time for 45 minutes",
        "/meet",
        "9",  # no such button: said so, the five cities still offered
        "3",  # Riverton
        "/whoami",
        "/nonsense",
        "How often is the Riverton agreement reviewed?",
        "/sources",
        "/pending",
    ]
    partners = str(Path(__file__).resolve().parents[1] / "knowledge" / "partners.yaml")
    env = bare_env()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(ingested), "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env={**env, "PARTNERS_FILE": partners},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "You are staff" in out and "/stats" in out, "/help is a command, not a question"
    assert "could not find" not in out.split("How long")[0], "/help was taken for a question"
    # the sentence is a meeting: a confirmation or the nearest valid times, as numbered buttons
    assert "Book this meeting?" in out or "The nearest times that work" in out
    assert "There is no button 9: type a number from 1 to 5." in out
    assert "How long will the meeting be?" in out, "typing 3 pressed Riverton"
    assert "Your role: staff" in out
    assert "I do not know that command" in out
    assert "three years" in out and "Riverton sister-city agreement" in out
    assert "Documents used for" in out
    assert "The queue is empty" in out

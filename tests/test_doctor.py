"""`exchange-bot doctor`: one line per check, the setting named when one fails, no secret printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import webhook_path
from tests.conftest import ROOT, FakeOpenAI, write
from tests.e2e.emulator import BotApiEmulator

TOKEN = "123456:TEST"
DOC = (
    "---\ntitle: Riverton sister-city agreement\nvisibility: public\npartner: Riverton\n"
    "language: en\n---\n# Article 5 Review\n\n"
    "The parties review this agreement every three years at a joint meeting.\n"
)
LINE = re.compile(r"(ok  |warn |skip |FAIL )[a-z ]+: \S")


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `exchange-bot ARGS` in cwd with only the given settings (and cwd's .env)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_", "CHROMA_", "EMBEDDINGS_"))
        and k not in {"DATABASE_URL", "PARTNERS_FILE"}
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def doctor(cwd: Path, **env: str) -> tuple[int, dict[str, str]]:
    """Run the doctor; return its exit code and its lines by check name (each line checked)."""
    result = run(cwd, "doctor", **env)
    matches = [LINE.match(line) for line in result.stdout.splitlines()]
    assert matches and all(matches), result.stdout + result.stderr
    return result.returncode, {
        m.string[m.end(1) :].split(":")[0]: m.string for m in matches if m is not None
    }


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder set up as the README says: .env from .env.example, the sample partners, an ingest."""
    root = tmp_path_factory.mktemp("doctor")
    shutil.copy(ROOT / ".env.example", root / ".env")
    (root / "knowledge").mkdir()
    shutil.copy(ROOT / "knowledge" / "partners.yaml", root / "knowledge" / "partners.yaml")
    write(root / "kb" / "agreements" / "riverton.md", DOC)
    ingest = run(root, "ingest", "kb")
    assert ingest.returncode == 0, ingest.stderr
    return root


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN, bot_username="exchange_test_bot").start()
    yield emu
    emu.stop()


def test_the_sample_configuration_passes_after_an_ingest(sample: Path) -> None:
    code, lines = doctor(sample)
    assert code == 0, lines
    assert not [line for line in lines.values() if line.startswith("FAIL")]
    assert lines["settings"].startswith(f"ok  settings: from the environment and {sample}")
    assert lines["data dir"] == f"ok  data dir: {sample / 'data'} is writable"
    assert lines["database"].startswith("ok  database: sqlite:///")
    assert lines["knowledge base"] == "ok  knowledge base: 1 document, 1 passage"
    assert lines["chroma"].startswith(f"ok  chroma: embedded at {sample / 'data' / 'chroma'}: 1 ")
    assert lines["partners"].endswith("home Hanbit, 5 partner cities")
    assert lines["telegram"].startswith("skip telegram: no TELEGRAM_BOT_TOKEN")
    assert lines["llm"].startswith("skip llm:")


def test_a_fresh_data_dir_only_warns(tmp_path: Path) -> None:
    code, lines = doctor(tmp_path, BOT_DATA_DIR=str(tmp_path / "data"))
    assert code == 0
    assert lines["knowledge base"].startswith("warn knowledge base: empty")
    assert lines["partners"] == (
        f"warn partners: no partner directory at {tmp_path / 'knowledge' / 'partners.yaml'}: "
        "meetings disabled, partner cities' names not matched across languages (set PARTNERS_FILE)"
    )
    assert not (tmp_path / "data").exists()  # the doctor looks, it does not create


def test_documents_without_a_partner_directory_fail(sample: Path, tmp_path: Path) -> None:
    missing = tmp_path / "partners.yaml"
    code, lines = doctor(sample, PARTNERS_FILE=str(missing))
    assert code == 1
    assert lines["partners"] == (
        f"FAIL partners: no partner directory at {missing}, with 1 document ingested: meetings"
        " disabled, partner cities' names not matched across languages (set PARTNERS_FILE)"
    )


def test_a_setting_that_does_not_load_is_named(sample: Path) -> None:
    code, lines = doctor(sample, CHROMA_PORT="abc")
    assert code == 1
    assert lines["settings"].startswith("FAIL settings: CHROMA_PORT: ")
    assert lines["settings"].endswith("(set CHROMA_PORT)")


def test_an_unreachable_model_endpoint_fails_naming_the_setting(sample: Path) -> None:
    code, lines = doctor(sample, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert code == 1
    assert lines["llm"].startswith("FAIL llm: cannot reach http://127.0.0.1:9/v1: ")
    assert lines["llm"].endswith("(set OPENAI_BASE_URL)")
    assert lines["database"].startswith("ok  ")  # one failure does not stop the other checks


def test_a_model_endpoint_listing_the_model_passes_and_the_key_stays_hidden(sample: Path) -> None:
    with FakeOpenAI("unused") as llm:
        code, lines = doctor(sample, OPENAI_BASE_URL=llm.url, OPENAI_API_KEY="sk-doctor-secret")
        assert ("GET", "/v1/models") in llm.requests
    assert code == 0
    assert lines["llm"] == f"ok  llm: {llm.url} answers and lists gpt-4o-mini"
    assert "sk-doctor-secret" not in "".join(lines.values())
    with FakeOpenAI("unused", models=("llama3",)) as llm:
        code, lines = doctor(sample, OPENAI_BASE_URL=llm.url)
    assert code == 0 and lines["llm"].startswith("warn llm:")
    assert lines["llm"].endswith("(it lists: llama3) (set OPENAI_MODEL)")


def test_the_bot_api_reports_the_bots_username(sample: Path, emulator: BotApiEmulator) -> None:
    code, lines = doctor(sample, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url)
    assert code == 0, lines
    assert lines["telegram"] == (
        f"ok  telegram: @exchange_test_bot (id 123456) at {emulator.base_url}; long polling"
    )
    assert emulator.calls_of("getMe")
    assert TOKEN not in "".join(lines.values())


def test_a_wrong_token_is_reported(sample: Path, emulator: BotApiEmulator) -> None:
    wrong = "123456:WRONG"
    code, lines = doctor(sample, TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=emulator.base_url)
    assert code == 1
    assert lines["telegram"] == (
        f"FAIL telegram: the Bot API at {emulator.base_url} refused the token "
        "(401 Unauthorized) (set TELEGRAM_BOT_TOKEN)"
    )
    assert "WRONG" not in "".join(lines.values())


def test_the_webhook_line_names_the_proxy_path_and_no_secret(
    sample: Path, emulator: BotApiEmulator
) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/",
        "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value",
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
    }
    path = webhook_path(TOKEN)
    where = (
        f"Telegram posts to https://bot.example.org/{path}, "
        f"the bot listens on http://127.0.0.1:8443/{path}"
    )
    code, lines = doctor(sample, **env)
    assert code == 0
    assert lines["webhook"] == f"warn webhook: {where}; not registered yet: `exchange-bot run` does"
    httpx.post(
        f"{emulator.base_url}{TOKEN}/setWebhook", data={"url": f"https://bot.example.org/{path}"}
    ).raise_for_status()
    code, lines = doctor(sample, **env)
    assert lines["webhook"] == f"ok  webhook: {where}; registered, 0 updates waiting"
    printed = "".join(lines.values())
    assert TOKEN not in printed and "webhook-secret-value" not in printed


def test_a_broken_partner_directory_names_the_entry(tmp_path: Path) -> None:
    text = (ROOT / "knowledge" / "partners.yaml").read_text("utf-8")
    broken = write(tmp_path / "partners.yaml", text.replace("timezone: America/Los_Angeles", ""))
    code, lines = doctor(tmp_path, BOT_DATA_DIR=str(tmp_path / "data"), PARTNERS_FILE=str(broken))
    assert code == 1
    assert lines["partners"] == (
        f"FAIL partners: {broken}: partners[2] (Riverton): missing timezone (set PARTNERS_FILE)"
    )


def test_unreachable_servers_fail_naming_their_settings_and_no_password(tmp_path: Path) -> None:
    code, lines = doctor(
        tmp_path,
        BOT_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL="postgresql+psycopg://exchange:db-s3cret@127.0.0.1:9/exchange",
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT="9",
    )
    assert code == 1
    assert lines["database"].startswith("FAIL database: ")
    assert lines["database"].endswith("(set DATABASE_URL)")
    assert "exchange:***@127.0.0.1:9" in lines["database"]
    assert lines["chroma"].startswith("FAIL chroma: no Chroma server answers at http://127.0.0.1:9")
    assert "db-s3cret" not in "".join(lines.values())


def test_a_data_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    file = write(tmp_path / "data", "not a folder")
    code, lines = doctor(tmp_path, BOT_DATA_DIR=str(file))
    assert code == 1
    assert lines["data dir"] == f"FAIL data dir: {file} is not a folder (set BOT_DATA_DIR)"

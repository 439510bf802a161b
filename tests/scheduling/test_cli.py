"""`exchange-bot meetings ...`: the shapes other tools script (in-process and via the CLI)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from bot.errors import CliError
from bot.scheduling.cli import add_meetings_parser, run_meetings
from bot.schema import open_database
from tests.conftest import bare_env, make_settings
from tests.scheduling import FakeClock, seoul, write_directory

NOW = seoul(2026, 3, 18, 10)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exchange-bot")
    add_meetings_parser(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `meetings ...` in-process against a temp data dir; return (exit code, stdout, stderr)."""
    partners = write_directory(tmp_path / "partners.yaml")
    settings = make_settings(tmp_path / "data")
    clock = FakeClock(NOW)

    def run(*argv: str) -> tuple[int, str, str]:
        args = _parser().parse_args(["meetings", *argv, "--partners", str(partners)])
        code = run_meetings(args, settings, open_database(settings.sqlite_url), clock=clock)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_slots_json_lists_start_end_and_partner_times(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "slots",
        "--partner",
        "duesseldorf",
        "--from",
        "2026-03-30",
        "--days",
        "2",
        "--duration",
        "60",
        "--json",
    )
    assert code == 0
    slots = json.loads(out)
    assert slots[0] == {
        "start": "2026-03-30T16:00:00+09:00",
        "end": "2026-03-30T17:00:00+09:00",
        "partner_start": "2026-03-30T09:00:00+02:00",
        "partner_end": "2026-03-30T10:00:00+02:00",
    }
    assert len(slots) == 6


def test_slots_text_shows_both_local_times(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "slots",
        "--partner",
        "Düsseldorf",
        "--from",
        "2026-03-31",
        "--days",
        "1",
        "--duration",
        "60",
    )
    assert code == 0
    assert out.splitlines()[0] == "화 3/31 16:00–17:00 KST · Di 31.3. 09:00–10:00 MESZ"


def test_book_json_then_list_ics_and_cancel(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "book",
        "--partner",
        "뒤셀도르프",
        "--start",
        "2026-03-31T16:00",
        "--duration",
        "60",
        "--title",
        "Budget talk",
        "--json",
    )
    assert code == 0
    meeting = json.loads(out)
    assert {"id", "start", "end", "video_url"} <= meeting.keys()
    assert (
        meeting["start"] == "2026-03-31T16:00:00+09:00"
        and meeting["end"] == "2026-03-31T17:00:00+09:00"
    )
    assert meeting["video_url"].startswith("https://meet.jit.si/")

    code, out, _ = cli("list", "--json")
    assert [m["id"] for m in json.loads(out)] == [meeting["id"]]
    code, out, _ = cli("list")
    assert "Budget talk" in out and "Di 31.3. 09:00–10:00 MESZ" in out

    code, out, _ = cli("ics", str(meeting["id"]))
    assert code == 0 and "\r\n" in out
    event = Calendar.from_ical(out).walk("VEVENT")[0]
    assert event["DTSTART"].dt == datetime.fromisoformat(meeting["start"])

    code, out, _ = cli("cancel", str(meeting["id"]))
    assert code == 0 and out.startswith(f"cancelled meeting #{meeting['id']}")
    assert json.loads(cli("list", "--json")[1]) == []
    assert "METHOD:CANCEL" in cli("ics", str(meeting["id"]))[1]


def test_book_accepts_an_explicit_offset(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "book",
        "--partner",
        "Düsseldorf",
        "--start",
        "2026-03-31T09:00+02:00",
        "--duration",
        "30",
        "--title",
        "Offset",
        "--json",
    )
    assert code == 0 and json.loads(out)["start"] == "2026-03-31T16:00:00+09:00"


def test_refusal_reason_names_the_holiday_and_proposes_slots(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CliError) as err:
        cli(
            "book",
            "--partner",
            "Düsseldorf",
            "--start",
            "2026-06-04T16:00",
            "--duration",
            "60",
            "--title",
            "Corpus Christi",
            "--json",
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith('refused: holiday "Fronleichnam" in DE-NW (2026-06-04)')
    assert "nearest free:" in message
    refusal = json.loads(capsys.readouterr().out)
    assert refusal["rules"] == ["holiday"] and len(refusal["nearest"]) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["slots", "--partner", "Paris", "--from", "2026-03-30", "--duration", "60"],
            "unknown partner city 'Paris'",
        ),
        (
            [
                "book",
                "--partner",
                "Düsseldorf",
                "--start",
                "next tuesday",
                "--duration",
                "60",
                "--title",
                "x",
            ],
            "--start: expected ISO 8601",
        ),
        (
            [
                "book",
                "--partner",
                "Düsseldorf",
                "--start",
                "2026-03-31T16:00",
                "--duration",
                "60",
                "--title",
                "x",
                "--video-url",
                "http://insecure.example",
            ],
            "https://",
        ),
        (["cancel", "42"], "no meeting #42"),
        (["ics", "42"], "no meeting #42"),
    ],
)
def test_user_errors_raise_cli_error(cli, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CliError, match=message.replace("+", r"\+")):
        cli(*argv)


def test_a_broken_directory_is_a_cli_error_naming_the_entry(tmp_path: Path) -> None:
    bad = write_directory(
        tmp_path / "bad.yaml",
        "home:\n  name: Hanbit\n  timezone: Mars/Base\n"
        "  country: KR\n  working_hours: '09:00-18:00'\n",
    )
    args = _parser().parse_args(["meetings", "list", "--partners", str(bad)])
    with pytest.raises(CliError, match=r"home \(Hanbit\): unknown time zone 'Mars/Base'"):
        settings = make_settings(tmp_path / "data")
        run_meetings(args, settings, open_database(settings.sqlite_url))


# --- through the real `exchange-bot` entry point, once `meetings` is wired into bot/cli.py ------


def _wired() -> bool:
    import bot.cli

    return "meetings" in getattr(bot.cli, "_COMMANDS", {})


def _run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = bare_env()
    return subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(data), "meetings", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.skipif(not _wired(), reason="`meetings` is not wired into bot/cli.py yet")
def test_exchange_bot_meetings_end_to_end(tmp_path: Path) -> None:
    partners = str(write_directory(tmp_path / "partners.yaml"))
    data = tmp_path / "data"
    # far enough ahead to stay in the future; the real clock is used here
    result = _run(
        "slots",
        "--partner",
        "Bien Hoa",
        "--from",
        "2031-03-10",
        "--days",
        "5",
        "--duration",
        "45",
        "--json",
        "--partners",
        partners,
        data=data,
    )
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)[0]
    result = _run(
        "book",
        "--partner",
        "비엔호아",
        "--start",
        first["start"],
        "--duration",
        "45",
        "--title",
        "Youth exchange",
        "--json",
        "--partners",
        partners,
        data=data,
    )
    assert result.returncode == 0, result.stderr
    meeting = json.loads(result.stdout)
    assert meeting["start"] == first["start"]
    again = _run(
        "book",
        "--partner",
        "Bien Hoa",
        "--start",
        first["start"],
        "--duration",
        "45",
        "--title",
        "Clash",
        "--partners",
        partners,
        data=data,
    )
    assert again.returncode == 1
    assert again.stderr.startswith("exchange-bot: error: refused: overlaps meeting #")
    assert again.stderr.count("\n") == 1
    ics = _run("ics", str(meeting["id"]), "--partners", partners, data=data)
    assert ics.returncode == 0 and "BEGIN:VTIMEZONE" in ics.stdout
    listed = _run("list", "--json", "--partners", partners, data=data)
    assert [m["id"] for m in json.loads(listed.stdout)] == [meeting["id"]]
    assert _run("cancel", str(meeting["id"]), "--partners", partners, data=data).returncode == 0

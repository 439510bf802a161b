"""`exchange-bot meetings ...`: slots, book, list, cancel, ics (other tools script these shapes)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.errors import CliError
from bot.scheduling.directory import DirectoryError, UnknownPartner
from bot.scheduling.models import Meeting
from bot.scheduling.service import (
    BookingRefused,
    SchedulingError,
    SchedulingService,
)
from bot.scheduling.slots import Slot, format_slot
from bot.storage.db import Database, utcnow


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-03-30, got {value!r}"
        ) from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def add_meetings_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `meetings` command and its subcommands to the top-level subparsers."""
    meetings = subparsers.add_parser(
        "meetings", help="video meetings with partner cities: slots, book, list, cancel, ics"
    )
    sub = meetings.add_subparsers(dest="meetings_command", required=True, metavar="COMMAND")

    def partners_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--partners",
            type=Path,
            metavar="FILE",
            help="partner directory YAML (default: PARTNERS_FILE or knowledge/partners.yaml)",
        )

    p = sub.add_parser("slots", help="propose start times inside both cities' working hours")
    p.add_argument("--partner", required=True, metavar="NAME", help="partner city name or alias")
    p.add_argument("--from", dest="from_date", required=True, type=_iso_date, metavar="YYYY-MM-DD")
    p.add_argument(
        "--days", type=_positive, default=7, metavar="N", help="home dates to search (7)"
    )
    p.add_argument("--duration", type=_positive, required=True, metavar="MINUTES")
    p.add_argument("--json", action="store_true", help="a JSON list of slots")
    partners_arg(p)

    p = sub.add_parser("book", help="book a meeting (refused with the reason if it breaks a rule)")
    p.add_argument("--partner", required=True, metavar="NAME")
    p.add_argument(
        "--start",
        required=True,
        metavar="ISO8601",
        help="e.g. 2026-03-31T16:00 (home time zone) or with an offset",
    )
    p.add_argument("--duration", type=_positive, required=True, metavar="MINUTES")
    p.add_argument("--title", required=True, metavar="TEXT")
    p.add_argument("--video-url", metavar="URL", help="use this https link instead of a new room")
    p.add_argument("--json", action="store_true", help="the booked meeting as JSON")
    partners_arg(p)

    p = sub.add_parser("list", help="upcoming meetings")
    p.add_argument("--partner", metavar="NAME", help="only this partner city's meetings")
    p.add_argument("--json", action="store_true")
    partners_arg(p)

    p = sub.add_parser("cancel", help="cancel a meeting")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--json", action="store_true")
    partners_arg(p)

    p = sub.add_parser("ics", help="write the meeting's .ics invite to standard output")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--tz", metavar="ZONE", help="write the times in this time zone (default: home)")
    partners_arg(p)
    return meetings


def slot_json(slot: Slot, service: SchedulingService, partner_tz: Any) -> dict[str, str]:
    """Render a slot as the documented JSON object."""
    return {
        "start": slot.start.astimezone(service.home.tz).isoformat(),
        "end": slot.end.astimezone(service.home.tz).isoformat(),
        "partner_start": slot.start.astimezone(partner_tz).isoformat(),
        "partner_end": slot.end.astimezone(partner_tz).isoformat(),
    }


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """Render a meeting as the documented JSON object."""
    return {
        "id": meeting.id,
        "uid": meeting.uid,
        "partner": meeting.partner,
        "title": meeting.title,
        "start": meeting.start.isoformat(),
        "end": meeting.end.isoformat(),
        "partner_start": meeting.partner_start.isoformat(),
        "partner_end": meeting.partner_end.isoformat(),
        "video_url": meeting.video_url,
        "status": meeting.status,
        "sequence": meeting.sequence,
    }


def parse_start(text: str, home_tz: Any) -> datetime:
    """Read an ISO 8601 start; without an offset it is home time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"--start: expected ISO 8601 like 2026-03-31T16:00, got {text!r}") from None
    if value.tzinfo is None:
        # round-trip through UTC so a time inside a DST gap lands on a real instant
        value = value.replace(tzinfo=home_tz).astimezone(UTC)
    return value.astimezone(home_tz)


def build_service(
    settings: Any,
    db: Database,
    partners: Path | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SchedulingService:
    """Build the scheduling service on an open database from settings (and a directory override)."""
    try:
        return SchedulingService.from_settings(settings, db, clock or utcnow, partners)
    except (DirectoryError, ValueError) as exc:
        db.close()
        raise CliError(str(exc)) from None


def run_meetings(
    args: argparse.Namespace,
    settings: Any,
    db: Database,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Run one `meetings` subcommand on the database; errors the user can fix raise CliError."""
    service = build_service(settings, db, args.partners, clock)
    try:
        return _COMMANDS[args.meetings_command](args, service)
    except UnknownPartner as exc:
        raise CliError(str(exc)) from None
    except BookingRefused as exc:
        partner = service.directory.get(args.partner)
        if getattr(args, "json", False):
            print(
                json.dumps(
                    {
                        "error": "refused",
                        "reasons": exc.reasons,
                        "rules": [v.rule for v in exc.violations],
                        "nearest": [slot_json(s, service, partner.tz) for s in exc.nearest],
                    },
                    ensure_ascii=False,
                )
            )
        nearest = ", ".join(format_slot(s.start, s.end, service.home, partner) for s in exc.nearest)
        hint = f" (nearest free: {nearest})" if nearest else ""
        raise CliError(f"refused: {exc}{hint}") from None
    except SchedulingError as exc:
        raise CliError(str(exc)) from None
    finally:
        service.db.close()


def _slots(args: argparse.Namespace, service: SchedulingService) -> int:
    partner = service.directory.get(args.partner)
    found = service.slots(partner, args.from_date, args.days, args.duration)
    if args.json:
        print(json.dumps([slot_json(s, service, partner.tz) for s in found], ensure_ascii=False))
        return 0
    if not found:
        print(
            f"no free {args.duration}-minute slots with {partner.name} in {args.days} days "
            f"from {args.from_date}",
            file=sys.stderr,
        )
    for slot in found:
        print(format_slot(slot.start, slot.end, service.home, partner, with_end=True))
    return 0


def _book(args: argparse.Namespace, service: SchedulingService) -> int:
    partner = service.directory.get(args.partner)
    start = parse_start(args.start, service.home.tz)
    if not args.title.strip():
        raise CliError("--title is empty")
    meeting = service.book(partner, start, args.duration, args.title, video_url=args.video_url)
    if args.json:
        print(json.dumps(meeting_json(meeting), ensure_ascii=False))
    else:
        print(f"booked meeting #{meeting.id}: {meeting.title}")
        print(f"  {format_slot(meeting.start, meeting.end, service.home, partner, with_end=True)}")
        print(f"  video: {meeting.video_url}")
    return 0


def _list(args: argparse.Namespace, service: SchedulingService) -> int:
    meetings = service.list_upcoming(args.partner)
    if args.json:
        print(json.dumps([meeting_json(m) for m in meetings], ensure_ascii=False))
        return 0
    if not meetings:
        print("no upcoming meetings", file=sys.stderr)
    for m in meetings:
        partner = service.directory.find(m.partner)
        when = (
            format_slot(m.start, m.end, service.home, partner, with_end=True)
            if partner
            else f"{m.start:%Y-%m-%d %H:%M}–{m.end:%H:%M} {m.start.tzname()}"
        )
        print(f"#{m.id}  {m.partner}  {m.title}\n    {when}\n    {m.video_url}")
    return 0


def _cancel(args: argparse.Namespace, service: SchedulingService) -> int:
    meeting = service.cancel(args.id)
    if args.json:
        print(json.dumps(meeting_json(meeting), ensure_ascii=False))
    else:
        print(
            f"cancelled meeting #{meeting.id}: {meeting.title} "
            f"({meeting.start:%Y-%m-%d %H:%M} {meeting.start.tzname()})"
        )
    return 0


def _ics(args: argparse.Namespace, service: SchedulingService) -> int:
    if args.tz:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(args.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise CliError(f"--tz: unknown time zone {args.tz!r}") from None
    data = service.ics(args.id, timezone=args.tz)
    sys.stdout.write(data.decode("utf-8"))  # keeps the CRLF line ends iCalendar requires
    sys.stdout.flush()
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, SchedulingService], int]] = {
    "slots": _slots,
    "book": _book,
    "list": _list,
    "cancel": _cancel,
    "ics": _ics,
}

"""The `exchange-bot` command: ingest, ask, chat, eval, run, doctor."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config import FUSION_MODES, Settings
from bot.domain import Answer, Asker, Role, UnknownCity, Visibility
from bot.errors import CliError
from bot.retrieval.endpoint import EmbedderUnavailable
from bot.scheduling.cli import add_meetings_parser

log = logging.getLogger("bot")
# every line names its process: several bot processes write to one journal or log collector
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process_name)s] %(name)s: %(message)s"


class _ProcessName(logging.Filter):
    """Puts the process's name (PROCESS_NAME, default host:pid) on every record a handler writes."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.process_name = name

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = self.process_name
        return True


def name_process(handlers: Sequence[logging.Handler], name: str = "") -> None:
    """Name the process on these handlers' lines (hostname:pid unless a name is given)."""
    import os
    import socket

    name = name or f"{socket.gethostname()}:{os.getpid()}"
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, _ProcessName)]:
            handler.removeFilter(old)
        handler.addFilter(_ProcessName(name))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"exchange-bot: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser; other tools script these names, keep them stable."""
    parser = _Parser(
        prog="exchange-bot", description="Cited answers over a city's exchange documents."
    )
    parser.add_argument(
        "--data-dir", type=Path, help="where the index and database live (BOT_DATA_DIR)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("ingest", help="read files or folders into the knowledge base")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument(
        "--visibility",
        choices=[v.value for v in Visibility],
        help="for files without metadata (default: internal)",
    )

    p = sub.add_parser("ask", help="answer a question (QUESTION '-' reads one per line from stdin)")
    p.add_argument("question")
    _asker_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object per answer")

    p = sub.add_parser("chat", help="console chat, the same answers as Telegram")
    _asker_args(p)

    p = sub.add_parser("eval", help="measure retrieval and answers on a JSONL question set")
    p.add_argument("file", type=Path)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--fusion", choices=list(FUSION_MODES), help="override the fusion mode")

    sub.add_parser(
        "run", help="run the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else console chat"
    )
    p = sub.add_parser("db", help="the database's schema revision: show it, or upgrade it")
    p.add_argument("db_command", choices=["current", "upgrade"])

    sub.add_parser("doctor", help="check the settings and every service they name, one line each")

    sub.add_parser(
        "reembed",
        help="delete the vector store's vectors and embed every stored chunk again with these "
        "settings (EMBEDDING_CENTERING, model); stop every other process first",
    )

    add_meetings_parser(sub)
    return parser


def _asker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.STAFF.value)
    p.add_argument("--partner", help="partner city of a partner asker")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    name_process(logging.getLogger().handlers)
    logging.getLogger("bm25s").setLevel(
        logging.WARNING
    )  # it logs index building at DEBUG by default
    # Alembic logs every plugin and context at INFO; bot.schema logs one line per upgrade
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        overrides: dict[str, Any] = {}
        if args.data_dir is not None:
            overrides["bot_data_dir"] = args.data_dir
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:
            if args.command == "doctor":  # a bad setting is the doctor's finding, not an error
                from bot.doctor import report_settings_error

                return report_settings_error(exc)
            raise CliError(_settings_error(exc)) from None
        if not args.verbose:
            logging.getLogger().setLevel(settings.log_level if args.command == "run" else "WARNING")
        if settings.process_name:
            name_process(logging.getLogger().handlers, settings.process_name)
        return _COMMANDS[args.command](args, settings)
    except CliError as exc:
        print(f"exchange-bot: error: {exc}", file=sys.stderr)
        return 1
    except EmbedderUnavailable as exc:  # at start, or an ingest or question meanwhile
        print(f"exchange-bot: error: {exc} (set {exc.setting})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _settings_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(x) for x in err["loc"]).upper()
        parts.append(f"setting {name}: {err['msg']}")
    return "; ".join(parts)


def _services(settings: Settings, reembed: bool = False) -> Any:
    from bot.schema import SchemaError
    from bot.services import StoreMismatch, build_services

    try:
        return build_services(settings, reembed=reembed)
    except (SchemaError, StoreMismatch) as exc:
        raise CliError(str(exc)) from None


def cmd_reembed(args: argparse.Namespace, settings: Settings) -> int:
    """Embed every stored chunk again in this process's embedding space (an explicit choice:
    the only way a shared store's vectors are deleted)."""
    services = _services(settings, reembed=True)
    try:
        chunks, units = services.store.count_chunks(), services.retriever.vectors.count()
        print(
            f"re-embedded {chunks} chunks ({units} vectors) in space {services.retriever.vectors.space}"
        )
    finally:
        services.close()
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Print the database's revision and this release's, or upgrade the database to it."""
    from bot.schema import Revision, SchemaError, migrate, revision
    from bot.storage.db import Database

    db = Database(settings.sqlite_url, settings.sqlite_synchronous)
    try:
        found: Revision = migrate(db) if args.db_command == "upgrade" else revision(db)
    except SchemaError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.close()
    state = "up to date" if found.current == found.head else "needs `exchange-bot db upgrade`"
    print(f"database revision: {found.current or '(none)'}; this release: {found.head} ({state})")
    return 0


def _require_documents(services: Any) -> None:
    if services.store.count_chunks() == 0:
        raise CliError(
            f"the knowledge base in {services.settings.bot_data_dir} is empty: "
            "run `exchange-bot ingest knowledge/` first"
        )


def _asker(args: argparse.Namespace) -> Asker:
    role = Role(args.role)
    if role is Role.PARTNER and not args.partner:
        raise CliError("--role partner needs --partner CITY")
    return Asker(role, partner=args.partner if role is Role.PARTNER else None)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest paths and print the summary; exit 1 if nothing could be read at all."""
    from tqdm import tqdm

    missing = [p for p in args.paths if not p.exists()]
    if missing and len(missing) == len(args.paths):
        raise CliError(f"no such file or folder: {', '.join(map(str, missing))}")
    services = _services(settings)
    bar = tqdm(total=0, unit="file", disable=None, file=sys.stderr, leave=False)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(name[-40:], refresh=True)

    default = Visibility(args.visibility) if args.visibility else Visibility.INTERNAL
    report = services.ingestor.ingest(args.paths, default_visibility=default, progress=progress)
    bar.close()
    print(report.summary())
    services.close()
    return 1 if report.failed and report.files == len(report.failed) else 0


def answer_json(answer: Answer) -> dict[str, Any]:
    """Render an answer as the JSON object other tools read."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "grounded": answer.grounded,
        "language": answer.language,
        "mode": answer.mode,
        "sources": [
            {
                "n": c.n,
                "source": c.source,
                "title": c.title,
                "heading": c.heading,
                "text": c.text,
                "score": c.score,
                "visibility": c.visibility.value,
            }
            for c in answer.citations
        ],
        "latency_ms": round(answer.latency_ms, 1),
    }


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer one question, or one per line from standard input."""
    asker = _asker(args)
    if args.question != "-" and not args.question.strip():
        raise CliError("the question is empty")
    services = _services(settings)
    _require_documents(services)
    questions = (
        (line.strip() for line in sys.stdin) if args.question == "-" else iter([args.question])
    )
    for question in questions:
        if not question:
            continue
        if len(question) > settings.max_question_chars:
            raise CliError(f"question longer than {settings.max_question_chars} characters")
        answer = services.answerer.answer(question, asker)
        if args.json:
            print(json.dumps(answer_json(answer), ensure_ascii=False), flush=True)
        else:
            from bot.console import answer_text

            print(answer_text(answer), end="\n\n", flush=True)
    services.close()
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Chat in the console, with the same commands, limits and texts as Telegram, until EOF or /quit."""
    from bot.console import Console, console_services, prompt_lines

    role = Role(args.role)
    if role is Role.ATTENDEE:
        raise CliError("the console chat runs as staff, partner or public (--role)")
    _asker(args)  # --role partner needs --partner
    services = _services(settings)
    _require_documents(services)
    services.analyzer.warm_up()
    try:
        try:
            console = Console(console_services(services, role, args.partner))
        except UnknownCity as exc:  # --partner names no city of the partner directory
            raise CliError(f"--partner: {exc}") from None
        console.run(prompt_lines())
    finally:
        services.close()
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Score retrieval and answers on a question set."""
    from bot.evaluation import load_questions, run_eval

    if not args.file.exists():
        raise CliError(f"no such file: {args.file}")
    if args.k < 1:
        raise CliError("--k must be at least 1")
    if args.fusion:
        settings = settings.model_copy(update={"fusion": args.fusion})
    questions = load_questions(args.file)
    services = _services(settings)
    _require_documents(services)
    report = run_eval(services, questions, k=args.k)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    services.close()
    return 0


def format_report(report: dict[str, Any]) -> str:
    """Render an eval report as a small table."""
    cols = [
        "n",
        "hit@1",
        "recall@k",
        "mrr",
        "answer_hit",
        "first_hit",
        "decline_acc",
        "false_decline",
        "p50_ms",
        "p95_ms",
    ]
    lines = [f"{'group':<8}" + "".join(f"{c:>14}" for c in cols)]
    for group, row in report["groups"].items():
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(f"{'-' if v is None else (f'{v:.3f}' if isinstance(v, float) else v):>14}")
        lines.append(f"{group:<8}" + "".join(cells))
    lines.append(f"k={report['k']} fusion={report['fusion']}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram bot when a token is configured, else the console chat."""
    if settings.telegram_bot_token is None:
        print("TELEGRAM_BOT_TOKEN is not set: starting the console chat.", file=sys.stderr)
        args.role, args.partner = Role.STAFF.value, None
        return cmd_chat(args, settings)
    from bot.schema import SchemaError
    from bot.services import StoreMismatch
    from bot.telegram.app import StartupError, run_bot

    try:
        return run_bot(settings)
    except (StartupError, SchemaError, StoreMismatch) as exc:
        raise CliError(str(exc)) from None


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Check the settings and every outside part they name; exit 1 if a check fails."""
    from bot.doctor import run_doctor

    return run_doctor(settings)


def cmd_meetings(args: argparse.Namespace, settings: Settings) -> int:
    """Find slots, book, list, cancel meetings with partner cities, and print invites."""
    from bot.scheduling.cli import run_meetings
    from bot.schema import open_database

    return run_meetings(
        args, settings, open_database(settings.sqlite_url, settings.sqlite_synchronous)
    )


_COMMANDS = {
    "db": cmd_db,
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "eval": cmd_eval,
    "run": cmd_run,
    "meetings": cmd_meetings,
    "doctor": cmd_doctor,
    "reembed": cmd_reembed,
}


if __name__ == "__main__":
    raise SystemExit(main())

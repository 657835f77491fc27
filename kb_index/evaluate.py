"""Retrieval quality on the eval set, and the choice of the answerable threshold.

In-scope questions (``data/eval/kb_questions.jsonl``, one JSON object a line:
``{"question", "article_ids": [...], "kind"}``) count as found when any of their
``article_ids`` is retrieved.  Out-of-scope questions (``out_of_scope.jsonl``,
``article_ids: []``) should be declared not answerable.  A question is searched as
``audience`` "internal" when one of its articles is internal (or its record says
``"audience"``), else "public"; out-of-scope questions as "public".

The threshold is the one that answers the most in-scope questions correctly (best
hit right and answerable) while answering at most ``MAX_OOS_ANSWERED`` of the
out-of-scope ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import KBError
from .search import METHODS, confidence

MAX_OOS_ANSWERED = 0.05


@dataclass(frozen=True)
class MethodScores:
    method: str
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float


@dataclass(frozen=True)
class Report:
    methods: list[MethodScores]
    n_questions: int
    n_out_of_scope: int
    threshold: float             # chosen on this eval set
    in_scope_answered_correctly: float
    out_of_scope_answered: float
    misses: list[tuple[str, list[str], str]]   # (question, expected ids, hybrid top-1)


def load_questions(path: str | Path) -> list[dict]:
    """Read a JSONL eval file; :class:`KBError` naming the file and line on bad input."""
    path = Path(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KBError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or not isinstance(record.get("question"), str) \
                or not isinstance(record.get("article_ids", []), list):
            raise KBError(f"{path}:{number}: needs a 'question' string and an 'article_ids' list")
        records.append(record)
    return records


def evaluate(index, questions: list[dict], out_of_scope: list[dict]) -> Report:
    texts = [q["question"] for q in questions] + [q["question"] for q in out_of_scope]
    vectors = index.embedder.encode([index.correct(t) for t in texts]) if texts else None
    audiences = [_audience(index, q) for q in questions]
    unknown = sorted({a for q in questions for a in q["article_ids"]} - set(index.article_ids()))
    if unknown:
        raise KBError(f"eval questions name articles missing from the index: {', '.join(unknown)}")
    methods, hybrid_ranked = [], []
    for method in METHODS:
        ranks = []
        for i, q in enumerate(questions):
            ranked = index.rank(q["question"], 10, audiences[i], method=method, vector=vectors[i])
            ids = [r.article_id for r in ranked[:10]]
            ranks.append(next((n for n, a in enumerate(ids, 1) if a in q["article_ids"]), None))
            if method == "hybrid":
                hybrid_ranked.append(ranked)
        methods.append(_scores(method, ranks))
    in_conf = np.array([confidence(r[0] if r else None) for r in hybrid_ranked])
    correct = np.array([bool(r) and r[0].article_id in q["article_ids"]
                        for r, q in zip(hybrid_ranked, questions)])
    oos_conf = np.array([
        confidence(next(iter(index.rank(q["question"], 10, "public",
                                        vector=vectors[len(questions) + i])), None))
        for i, q in enumerate(out_of_scope)])
    threshold = choose_threshold(oos_conf)
    misses = [(q["question"], q["article_ids"], r[0].article_id if r else "")
              for q, r, ok in zip(questions, hybrid_ranked, correct) if not ok]
    return Report(methods, len(questions), len(out_of_scope), threshold,
                  _share(correct & (in_conf >= threshold)), _share(oos_conf >= threshold), misses)


def choose_threshold(oos_conf: np.ndarray, max_answered: float = MAX_OOS_ANSWERED) -> float:
    """Lowest threshold (so the most in-scope answers) that answers at most
    ``max_answered`` of the out-of-scope questions, rounded up to 0.001."""
    if len(oos_conf) == 0:
        return 0.0
    allowed = int(np.floor(max_answered * len(oos_conf)))   # how many may pass
    ordered = np.sort(oos_conf)[::-1]
    boundary = ordered[allowed] if allowed < len(ordered) else 0.0
    return float(np.ceil((boundary + 1e-9) * 1000) / 1000)


def _audience(index, question: dict) -> str:
    if question.get("audience") in ("public", "internal"):
        return question["audience"]
    for article_id in question["article_ids"]:
        article = index.get_article(article_id)
        if article is not None and article.audience == "internal":
            return "internal"
    return "public"


def _scores(method: str, ranks: list[int | None]) -> MethodScores:
    n = len(ranks) or 1
    return MethodScores(method,
                        sum(r == 1 for r in ranks) / n,
                        sum(r is not None and r <= 3 for r in ranks) / n,
                        sum(1 / r for r in ranks if r is not None) / n)


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def format_table(report: Report) -> str:
    lines = [f"{report.n_questions} in-scope questions, {report.n_out_of_scope} out-of-scope",
             "",
             "| method | Recall@1 | Recall@3 | MRR@10 | in-scope answered correctly "
             "| out-of-scope answered |",
             "| --- | --- | --- | --- | --- | --- |"]
    for m in report.methods:
        tail = (f"{report.in_scope_answered_correctly:.1%} | {report.out_of_scope_answered:.1%}"
                if m.method == "hybrid" else "– | –")
        lines.append(f"| {m.method} | {m.recall_at_1:.3f} | {m.recall_at_3:.3f} "
                     f"| {m.mrr_at_10:.3f} | {tail} |")
    lines.append("")
    lines.append(f"answerable threshold chosen: {report.threshold:.3f} (confidence of the best "
                 f"hit; at most {MAX_OOS_ANSWERED:.0%} of out-of-scope answered)")
    return "\n".join(lines)

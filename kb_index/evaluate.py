"""Retrieval quality on the eval set, and the choice of the answerable threshold.

In-scope questions (``data/eval/kb_questions.jsonl``, one JSON object a line:
``{"question", "article_ids": [...], "kind"}``) count as found when any of their
``article_ids`` is retrieved.  Out-of-scope questions (``out_of_scope.jsonl``,
``article_ids: []``) should be declared not answerable.  A question is searched as
``audience`` "internal" when one of its articles is internal, "employee" when one is for
employees (as the Slack bot searches), or what its record says in ``"audience"``, else
"public"; out-of-scope questions as "public".

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
from .search import FUSIONS, confidence

MAX_OOS_ANSWERED = 0.05


@dataclass(frozen=True)
class MethodScores:
    method: str                  # bm25, dense, hybrid (fusion)
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float
    recall_at_1_by_kind: dict[str, float]
    answered_correctly: float | None = None   # at the chosen threshold (hybrid rows)
    oos_answered: float | None = None


@dataclass(frozen=True)
class Report:
    methods: list[MethodScores]
    n_questions: int
    n_out_of_scope: int
    threshold: float             # chosen on this eval set for the index's fusion
    in_scope_answered_correctly: float
    out_of_scope_answered: float
    configured_threshold: float  # the one in use (setting or code default)
    configured_answered_correctly: float
    configured_oos_answered: float
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
    """Scores of BM25, dense and both hybrid fusions; threshold for the index's fusion."""
    unknown = sorted({a for q in questions for a in q["article_ids"]} - set(index.article_ids()))
    if unknown:
        raise KBError(f"eval questions name articles missing from the index: {', '.join(unknown)}")
    texts = [q["question"] for q in questions + out_of_scope]
    vectors = index.embedder.encode([index.correct(t) for t in texts]) if texts else None
    audiences = [_audience(index, q) for q in questions] + ["public"] * len(out_of_scope)
    fusions = [index.fusion] + [f for f in FUSIONS if f != index.fusion]
    runs = [("bm25", "bm25", index.fusion), ("dense", "dense", index.fusion)] + [
        (f"hybrid ({f})", "hybrid", f) for f in fusions]
    methods, chosen = [], None
    for label, method, fusion in runs:
        ranked = [index.rank(t, 10, a, method=method, vector=v, fusion=fusion)
                  for t, a, v in zip(texts, audiences, vectors)]
        top = [r[0].article_id if r else "" for r in ranked]
        ranks = [next((n for n, r in enumerate(ranked[i][:10], 1) if r.article_id in q["article_ids"]),
                      None) for i, q in enumerate(questions)]
        correct = np.array([top[i] in q["article_ids"] for i, q in enumerate(questions)], dtype=bool)
        conf = np.array([confidence(r[0] if r else None) for r in ranked])
        in_conf, oos_conf = conf[: len(questions)], conf[len(questions):]
        answered = oos = None
        if method == "hybrid":
            threshold = choose_threshold(oos_conf)
            answered = _share(correct & (in_conf >= threshold))
            oos = _share(oos_conf >= threshold)
            if fusion == index.fusion:
                chosen = (threshold, answered, oos, correct, in_conf, oos_conf, top)
        methods.append(_scores(label, ranks, [q.get("kind", "") for q in questions], answered, oos))
    threshold, answered, oos, correct, in_conf, oos_conf, top = chosen
    configured = index.answer_threshold
    misses = [(q["question"], q["article_ids"], top[i])
              for i, q in enumerate(questions) if not correct[i]]
    return Report(methods, len(questions), len(out_of_scope), threshold, answered, oos,
                  configured, _share(correct & (in_conf >= configured)),
                  _share(oos_conf >= configured), misses)


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
    if question.get("audience") in ("public", "employee", "internal"):
        return question["audience"]
    audiences = {article.audience for article in map(index.get_article, question["article_ids"])
                 if article is not None}
    for audience in ("internal", "employee"):  # employee: as the Slack bot searches
        if audience in audiences:
            return audience
    return "public"


def _scores(label: str, ranks: list[int | None], kinds: list[str], answered: float | None,
            oos: float | None) -> MethodScores:
    n = len(ranks) or 1
    by_kind = {}
    for kind in sorted(set(kinds)):
        of_kind = [r for r, k in zip(ranks, kinds) if k == kind]
        by_kind[kind] = sum(r == 1 for r in of_kind) / len(of_kind)
    return MethodScores(label,
                        sum(r == 1 for r in ranks) / n,
                        sum(r is not None and r <= 3 for r in ranks) / n,
                        sum(1 / r for r in ranks if r is not None) / n,
                        by_kind, answered, oos)


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def format_table(report: Report) -> str:
    lines = [f"{report.n_questions} in-scope questions, {report.n_out_of_scope} out-of-scope",
             "",
             "| method | Recall@1 | Recall@3 | MRR@10 | in-scope answered correctly "
             "| out-of-scope answered |",
             "| --- | --- | --- | --- | --- | --- |"]
    for m in report.methods:
        tail = ("– | –" if m.answered_correctly is None
                else f"{m.answered_correctly:.1%} | {m.oos_answered:.1%}")
        lines.append(f"| {m.method} | {m.recall_at_1:.3f} | {m.recall_at_3:.3f} "
                     f"| {m.mrr_at_10:.3f} | {tail} |")
    kinds = list(report.methods[0].recall_at_1_by_kind)
    lines += ["", "Recall@1 by kind of question:", "",
              "| method | " + " | ".join(kinds) + " |", "| --- |" + " --- |" * len(kinds)]
    for m in report.methods:
        lines.append(f"| {m.method} | " + " | ".join(
            f"{m.recall_at_1_by_kind[k]:.3f}" for k in kinds) + " |")
    lines += ["", f"Answerable: the threshold chosen here (first hybrid row) is "
              f"{report.threshold:.3f}: the most in-scope questions answered correctly with at "
              f"most {MAX_OOS_ANSWERED:.0%} of out-of-scope ones answered.",
              f"The threshold in use is {report.configured_threshold:.3f}: "
              f"{report.configured_answered_correctly:.1%} in-scope answered correctly, "
              f"{report.configured_oos_answered:.1%} out-of-scope answered."]
    return "\n".join(lines)

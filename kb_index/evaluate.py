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
out-of-scope ones.  Chosen on the whole set, that figure is in-sample; the headline is
the *held-out* one: the same choice made on four fifths of the in-scope questions and
of the out-of-scope messages and measured on the fifth left out, over ``CV_REPEATS``
shufflings of ``CV_FOLDS`` folds.  Out-of-scope messages from other sources (HINT3's
real customers) join the pool with ``extra_oos``.

:func:`hint3_sets` turns HINT3's three support bots into foreign KBs with their own
questions and out-of-scope messages (``python -m kb_index eval --hint3``); :func:`faq_set`
reads a foreign FAQ imported as is, titles and answers (``data/foreign/covid_qa``, or a
company's own FAQ export with its customers' questions).

An in-scope question with ``sections`` (``"<article id>#<anchor>"``) also scores the
*passage* shown for its first hit: right when the first article is right and the
section shown (:meth:`Index.shown_section`) is one of them.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .articles import Article
from .errors import KBError
from .search import CONFIDENCE_SCORES, FUSIONS, confidence

MAX_OOS_ANSWERED = 0.03     # the most out-of-scope messages the threshold may answer
CV_FOLDS = 5
CV_REPEATS = 5
EVAL_K = 4                  # searched as the chat action searches (its SEARCH_K): the same
                            # candidate depth (search.candidate_depth) as what ships


@dataclass(frozen=True)
class MethodScores:
    method: str                  # bm25, dense, hybrid (fusion)
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float
    recall_at_1_by_kind: dict[str, float]
    answered_correctly: float | None = None   # at the chosen threshold (hybrid rows)
    oos_answered: float | None = None
    passage_at_1: float | None = None         # shown section of the first hit is gold
    held_out: HeldOut | None = None           # cross-validated threshold (hybrid rows)


@dataclass(frozen=True)
class HeldOut:
    """The threshold chosen on the other folds, measured on the fold left out."""
    answered_correctly: float          # share of all held-out in-scope questions
    oos_answered: float                # share of all held-out out-of-scope messages
    oos_answered_by_source: dict[str, float]
    fold_range: tuple[float, float]    # min and max answered correctly over the folds
    thresholds: tuple[float, float]    # min and max of the thresholds chosen


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
    passage_misses: list[tuple[str, list[str], str]] = ()  # (question, gold sections, shown)
    n_extra_oos: int = 0
    confidence_score: str = "fused"            # the score the confidence starts from
    alternative: tuple[str, HeldOut | None] | None = None   # the other score, held out


def hint3_messages(root: str | Path) -> dict[str, list[str]]:
    """HINT3's out-of-scope messages (label ``NO_NODES_DETECTED`` in the v2 test sets)
    by bot: real customers' messages to three other companies' support bots that those
    bots could not place, so none is about our KB (bench/eval_hint3_oos.py)."""
    found = {}
    for path in sorted((Path(root) / "dataset" / "v2" / "test").glob("*_test.csv")):
        with path.open(encoding="utf-8") as handle:
            found[path.stem.replace("_test", "")] = [
                row["sentence"].strip() for row in csv.DictReader(handle)
                if row["label"] == "NO_NODES_DETECTED" and row["sentence"].strip()]
    if not found:
        raise KBError(f"no HINT3 test files under {root}/dataset/v2/test")
    return found


@dataclass(frozen=True)
class ForeignSet:
    """A KB and its eval questions that none of us wrote (:func:`hint3_sets`, :func:`faq_set`)."""
    name: str
    articles: list[Article]
    questions: list[dict]        # in-scope: {"question", "article_ids"}
    out_of_scope: list[dict]     # the same customers' messages the bot could not place; empty:
                                 # none of its own (eval uses the pooled out-of-scope messages)


FAQ_FIELDS = ("id", "title", "answer")   # required in each FAQ record; "url" optional
FAQ_SETS = ("data/foreign/covid_qa",)    # the foreign FAQ sets in the repo: eval runs them by default


def faq_set(folder: str | Path) -> ForeignSet:
    """An FAQ imported as a KB the way a customer imports one: one article per entry,
    titled with its question, whose body is its answer, with no question lists.

    ``folder`` holds ``faq.jsonl`` (one ``{"id", "title", "answer", "url"?}`` a line; other
    fields are kept in the file, not read) or ``faq.csv`` (the same columns), and
    ``queries.jsonl`` (:func:`load_questions`: the customers' questions with the ids of the
    entries that answer them); optionally ``out_of_scope.jsonl``. The set is named after
    the folder (``data/foreign/covid_qa``: ``covid_qa``)."""
    folder = Path(folder)
    if (folder / "faq.jsonl").is_file():
        path, records = folder / "faq.jsonl", load_questions(folder / "faq.jsonl", FAQ_FIELDS)
    elif (folder / "faq.csv").is_file():
        path = folder / "faq.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
    else:
        raise KBError(f"{folder}: no faq.jsonl or faq.csv (an FAQ of title and answer records)")
    articles = []
    for number, record in enumerate(records, 1):
        missing = [f for f in FAQ_FIELDS if not str(record.get(f) or "").strip()]
        if missing:
            raise KBError(f"{path}: record {number} has no {', '.join(missing)}")
        articles.append(Article(id=record["id"].strip(), title=record["title"], body=record["answer"],
                                url=str(record.get("url") or ""), source=f"{path}:{number}"))
    oos = folder / "out_of_scope.jsonl"
    return ForeignSet(folder.name, articles, load_questions(folder / "queries.jsonl"),
                      load_questions(oos) if oos.is_file() else [])


HINT3_OOS = "NO_NODES_DETECTED"


def _hint3_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [(row["sentence"].strip(), row["label"].strip()) for row in csv.DictReader(handle)
                if row["sentence"].strip() and row["label"].strip()]


def hint3_sets(root: str | Path) -> list[ForeignSet]:
    """HINT3's three support bots (a mattress shop, a pharmacy, a fantasy-sports app;
    Arora et al. 2020, ODbL) as foreign KBs, built at eval time from the folder holding
    ``dataset/v2``: one article per intent, titled with the intent's name, whose
    front-matter questions are the bot's training sentences (the company's own list of
    how customers ask), and as eval questions the real customers' test messages with
    their intent; the messages labelled ``NO_NODES_DETECTED`` are its out-of-scope set.
    HINT3 has no answer texts, so the article body is its title: this measures the
    regime of a KB with question lists, on someone else's questions and customers."""
    sets = []
    for test in sorted((Path(root) / "dataset" / "v2" / "test").glob("*_test.csv")):
        bot = test.stem.replace("_test", "")
        train = test.parent.parent / "train" / f"{bot}_train.csv"
        if not train.exists():
            raise KBError(f"{train} is missing (HINT3 {bot})")
        by_intent: dict[str, list[str]] = {}
        for sentence, label in _hint3_rows(train):
            if label != HINT3_OOS and sentence[:300] not in by_intent.setdefault(label, []):
                by_intent[label].append(sentence[:300])
        articles = [Article(id=_hint3_id(label), title=_hint3_title(label),
                            body=_hint3_title(label) + ".", questions=tuple(sentences),
                            url=f"/hint3/{bot}/{_hint3_id(label)}")
                    for label, sentences in sorted(by_intent.items())]
        rows = _hint3_rows(test)
        questions = [{"question": s, "article_ids": [_hint3_id(label)], "kind": bot}
                     for s, label in rows if label != HINT3_OOS and label in by_intent]
        oos = [{"question": s, "article_ids": []} for s, label in rows if label == HINT3_OOS]
        sets.append(ForeignSet(f"HINT3 {bot}", articles, questions, oos))
    if not sets:
        raise KBError(f"no HINT3 test files under {root}/dataset/v2/test")
    return sets


def _hint3_id(label: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", label.lower()).strip("-")[:128] or "intent"


def _hint3_title(label: str) -> str:
    return label.replace("_", " ").strip().capitalize()


def load_questions(path: str | Path, fields: tuple[str, ...] = ()) -> list[dict]:
    """Read a JSONL eval file; :class:`KBError` naming the file and line on bad input.
    ``fields``: the string fields each record needs instead of 'question' and 'article_ids'."""
    path = Path(path)
    if not path.is_file():
        raise KBError(f"{path}: no such file")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KBError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if fields:
            if not isinstance(record, dict) or not all(isinstance(record.get(f), str) for f in fields):
                raise KBError(f"{path}:{number}: needs the strings {', '.join(map(repr, fields))}")
        elif not isinstance(record, dict) or not isinstance(record.get("question"), str) \
                or not isinstance(record.get("article_ids", []), list):
            raise KBError(f"{path}:{number}: needs a 'question' string and an 'article_ids' list")
        records.append(record)
    return records


def evaluate(index, questions: list[dict], out_of_scope: list[dict],
             extra_oos: dict[str, list[str]] | None = None, *,
             max_oos: float = MAX_OOS_ANSWERED, seed: int = 0) -> Report:
    """Scores of BM25, dense and both hybrid fusions; threshold for the index's fusion.
    ``extra_oos``: more out-of-scope messages by source name (searched as public)."""
    unknown = sorted({a for q in questions for a in q["article_ids"]} - set(index.article_ids()))
    if unknown:
        raise KBError(f"eval questions name articles missing from the index: {', '.join(unknown)}")
    extra = [(name, text[: index.max_query_chars]) for name, texts in (extra_oos or {}).items()
             for text in texts if text.strip()]
    texts = [q["question"] for q in questions + out_of_scope] + [t for _, t in extra]
    sources = ["own"] * len(out_of_scope) + [name for name, _ in extra]
    vectors = index.embedder.encode([index.correct(t) for t in texts]) if texts else None
    audiences = [_audience(index, q) for q in questions] + ["public"] * (len(texts) - len(questions))
    fusions = [index.fusion] + [f for f in FUSIONS if f != index.fusion]
    runs = [("bm25", "bm25", index.fusion), ("dense", "dense", index.fusion)] + [
        (f"hybrid ({f})", "hybrid", f) for f in fusions]
    methods, chosen, alternative = [], None, None
    labelled = [i for i, q in enumerate(questions) if q.get("sections")]
    for label, method, fusion in runs:
        ranked = [index.rank(t, EVAL_K, a, method=method, vector=v, fusion=fusion)
                  for t, a, v in zip(texts, audiences, vectors)]
        top = [r[0].article_id if r else "" for r in ranked]
        ranks = [next((n for n, r in enumerate(ranked[i][:10], 1) if r.article_id in q["article_ids"]),
                      None) for i, q in enumerate(questions)]
        correct = np.array([top[i] in q["article_ids"] for i, q in enumerate(questions)], dtype=bool)
        conf = np.array([confidence(r[0] if r else None, index.confidence_score) for r in ranked])
        in_conf, oos_conf = conf[: len(questions)], conf[len(questions):]
        answered = oos = passage = held = None
        shown: dict[int, str] = {}
        if labelled and method != "bm25":
            for i in labelled:
                if correct[i]:
                    section = index.shown_section(ranked[i][0], texts[i], vectors[i])
                    shown[i] = f"{top[i]}#{section.anchor}"
            passage = sum(shown.get(i) in questions[i]["sections"] for i in labelled) / len(labelled)
        if method == "hybrid":
            threshold = choose_threshold(oos_conf, max_oos)
            answered = _share(correct & (in_conf >= threshold))
            oos = _share(oos_conf >= threshold)
            held = cross_validate(correct, in_conf, oos_conf, sources, max_oos, seed)
            if fusion == index.fusion:
                chosen = (threshold, answered, oos, correct, in_conf, oos_conf, top, shown)
                other = next(c for c in CONFIDENCE_SCORES if c != index.confidence_score)
                other_conf = np.array([confidence(r[0] if r else None, other) for r in ranked])
                alternative = (other, cross_validate(correct, other_conf[: len(questions)],
                                                     other_conf[len(questions):], sources, max_oos, seed))
        methods.append(_scores(label, ranks, [q.get("kind", "") for q in questions], answered, oos,
                               passage, held))
    threshold, answered, oos, correct, in_conf, oos_conf, top, shown = chosen
    configured = index.answer_threshold
    misses = [(q["question"], q["article_ids"], top[i])
              for i, q in enumerate(questions) if not correct[i]]
    passage_misses = [(questions[i]["question"], questions[i]["sections"], shown[i])
                      for i in labelled if i in shown and shown[i] not in questions[i]["sections"]]
    return Report(methods, len(questions), len(out_of_scope), threshold, answered, oos,
                  configured, _share(correct & (in_conf >= configured)),
                  _share(oos_conf >= configured), misses, passage_misses, len(extra),
                  index.confidence_score, alternative)


def cross_validate(correct: np.ndarray, in_conf: np.ndarray, oos_conf: np.ndarray,
                   sources: list[str], max_oos: float = MAX_OOS_ANSWERED, seed: int = 0,
                   folds: int = CV_FOLDS, repeats: int = CV_REPEATS) -> HeldOut | None:
    """Choose the threshold on ``folds - 1`` folds of the in-scope questions and of the
    out-of-scope messages, measure it on the fold left out; ``repeats`` shufflings."""
    if len(in_conf) < folds or len(oos_conf) < folds:
        return None
    rng = np.random.default_rng(seed)
    sources_arr = np.array(sources)
    hits = total = oos_hits = 0
    oos_by: dict[str, list[int]] = {s: [0, 0] for s in dict.fromkeys(sources)}
    per_fold, thresholds = [], []
    for _ in range(repeats):
        q_folds = np.array_split(rng.permutation(len(in_conf)), folds)
        o_folds = np.array_split(rng.permutation(len(oos_conf)), folds)
        for k in range(folds):
            train_o = np.concatenate([o_folds[j] for j in range(folds) if j != k])
            threshold = choose_threshold(oos_conf[train_o], max_oos)
            test_q, test_o = q_folds[k], o_folds[k]
            right = int((correct[test_q] & (in_conf[test_q] >= threshold)).sum())
            hits, total = hits + right, total + len(test_q)
            answered = oos_conf[test_o] >= threshold
            oos_hits += int(answered.sum())
            for source in oos_by:
                mask = sources_arr[test_o] == source
                oos_by[source][0] += int(answered[mask].sum())
                oos_by[source][1] += int(mask.sum())
            per_fold.append(right / len(test_q))
            thresholds.append(threshold)
    n_oos = repeats * len(oos_conf)
    return HeldOut(hits / total, oos_hits / n_oos,
                   {s: a / n for s, (a, n) in oos_by.items() if n},
                   (min(per_fold), max(per_fold)), (min(thresholds), max(thresholds)))


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
            oos: float | None, passage: float | None = None,
            held: HeldOut | None = None) -> MethodScores:
    n = len(ranks) or 1
    by_kind = {}
    for kind in sorted(set(kinds)):
        of_kind = [r for r, k in zip(ranks, kinds) if k == kind]
        by_kind[kind] = sum(r == 1 for r in of_kind) / len(of_kind)
    return MethodScores(label,
                        sum(r == 1 for r in ranks) / n,
                        sum(r is not None and r <= 3 for r in ranks) / n,
                        sum(1 / r for r in ranks if r is not None) / n,
                        by_kind, answered, oos, passage, held)


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def format_table(report: Report) -> str:
    extra = f" + {report.n_extra_oos} from other sources" if report.n_extra_oos else ""
    lines = [f"{report.n_questions} in-scope questions, {report.n_out_of_scope} out-of-scope{extra}",
             "",
             "| method | Recall@1 | Recall@3 | MRR@10 | passage acc@1 | in-scope answered correctly "
             "| out-of-scope answered | held out: answered correctly | held out: out-of-scope answered |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in report.methods:
        passage = "–" if m.passage_at_1 is None else f"{m.passage_at_1:.3f}"
        tail = ("– | –" if m.answered_correctly is None
                else f"{m.answered_correctly:.1%} | {m.oos_answered:.1%}")
        held = ("– | –" if m.held_out is None
                else f"**{m.held_out.answered_correctly:.1%}** | **{m.held_out.oos_answered:.1%}**")
        lines.append(f"| {m.method} | {m.recall_at_1:.3f} | {m.recall_at_3:.3f} "
                     f"| {m.mrr_at_10:.3f} | {passage} | {tail} | {held} |")
    kinds = list(report.methods[0].recall_at_1_by_kind)
    lines += ["", "Recall@1 by kind of question:", "",
              "| method | " + " | ".join(kinds) + " |", "| --- |" + " --- |" * len(kinds)]
    for m in report.methods:
        lines.append(f"| {m.method} | " + " | ".join(
            f"{m.recall_at_1_by_kind[k]:.3f}" for k in kinds) + " |")
    first = next(m for m in report.methods if m.held_out is not None or m.answered_correctly is not None)
    single = {m.method: m.recall_at_1 for m in report.methods if m.method in ("bm25", "dense")}
    if len(single) == 2:
        margins = {k: first.recall_at_1 - v for k, v in single.items()}
        holds = "holds" if min(margins.values()) >= 0 else "does NOT hold"
        lines += ["", f"Fusion ({first.method}) {holds}: Recall@1 minus dense "
                  f"{margins['dense']:+.3f}, minus BM25 {margins['bm25']:+.3f}."]
    lines += ["", f"Answerable: the threshold chosen on the whole set (first hybrid row) is "
              f"{report.threshold:.3f}: the most in-scope questions answered correctly with at "
              f"most {MAX_OOS_ANSWERED:.0%} of out-of-scope ones answered (in-sample)."]
    if first.held_out is not None:
        h = first.held_out
        by = ", ".join(f"{s} {v:.1%}" for s, v in h.oos_answered_by_source.items())
        lines.append(f"Held out ({CV_REPEATS}× {CV_FOLDS}-fold, threshold chosen on the other folds, "
                     f"{h.thresholds[0]:.3f}–{h.thresholds[1]:.3f}): {h.answered_correctly:.1%} "
                     f"in-scope answered correctly (folds {h.fold_range[0]:.1%}–{h.fold_range[1]:.1%}), "
                     f"{h.oos_answered:.1%} out-of-scope answered ({by}).")
    if report.alternative is not None and report.alternative[1] is not None:
        name, h = report.alternative
        lines.append(f"Confidence from the {report.confidence_score} score (in use); from the {name} "
                     f"score instead, held out: {h.answered_correctly:.1%} in-scope answered correctly, "
                     f"{h.oos_answered:.1%} out-of-scope answered (setting confidence_score).")
    lines.append(f"The threshold in use is {report.configured_threshold:.3f}: "
                 f"{report.configured_answered_correctly:.1%} in-scope answered correctly, "
                 f"{report.configured_oos_answered:.1%} out-of-scope answered.")
    return "\n".join(lines)


def format_summary(reports: list[tuple[str, Report]]) -> str:
    """One row per set: the first hybrid row's figures and its margins over each retriever."""
    lines = ["| set | Recall@1 | Recall@3 | MRR@10 | passage acc@1 | held out: answered correctly "
             "| held out: out-of-scope answered | Recall@1 minus dense | minus BM25 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, report in reports:
        by = {m.method: m for m in report.methods}
        first = next(m for m in report.methods if m.method.startswith("hybrid"))
        passage = "–" if first.passage_at_1 is None else f"{first.passage_at_1:.3f}"
        held = ("– | –" if first.held_out is None
                else f"{first.held_out.answered_correctly:.1%} | {first.held_out.oos_answered:.1%}")
        lines.append(f"| {name} | {first.recall_at_1:.3f} | {first.recall_at_3:.3f} | {first.mrr_at_10:.3f} "
                     f"| {passage} | {held} | {first.recall_at_1 - by['dense'].recall_at_1:+.3f} "
                     f"| {first.recall_at_1 - by['bm25'].recall_at_1:+.3f} |")
    return "\n".join(lines)

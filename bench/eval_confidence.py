"""A confidence fitted per deployment from the KB itself, against the formula.

For each set of ``python -m kb_index eval --hint3 DIR`` (our KB as shipped, imported
without questions, HINT3's three bots as foreign KBs) this fits a logistic confidence
(P(first article right) from eight features of the first hit) on the index's own
front-matter questions (each searched with its own chunk left out, and with its whole article left out as a near-miss
negative; no eval question is used), then measures, with the threshold rule and the
5 x 5-fold cross-validation of ``kb_index.evaluate``, the held-out share of in-scope
questions answered correctly at <= 3 % out-of-scope answered, for:

- the formula (search.confidence);
- the formula with the fused score (Hit.score) in place of the weighted one;
- the fitted model, leave-one-question-out only, and with the leave-article-out negatives,
  on all features and on subsets of them;
- the L2 penalty of the fit, chosen leaving one set out (best worst gain over the formula).

    PYTHONPATH=. .venv/bin/python bench/eval_confidence.py --hint3 ../shared/data/hint3
"""
from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kb_index.articles import load_articles  # noqa: E402
from kb_index.building import build_articles, open_index  # noqa: E402
from kb_index.evaluate import (CV_FOLDS, CV_REPEATS, EVAL_K, MAX_OOS_ANSWERED,  # noqa: E402
                               _audience, choose_threshold, cross_validate, hint3_messages,
                               hint3_sets, load_questions)
from kb_index import search as search_module  # noqa: E402
from kb_index.search import KEYWORD_SATURATION, RankedArticle, confidence  # noqa: E402

FEATURES = ("formula", "weighted", "cosine", "keyword", "weighted_margin", "cosine_margin",
            "question", "length", "fused", "bm25", "best chunk")
MIN_SELF_EXAMPLES = 40      # fewer right or wrong self-searches: keep the formula
CALIBRATION_L2 = 1.0        # ridge penalty of the logistic fit (standardised features)


def hit_features(ranked: list[RankedArticle], question_rows: frozenset[int] | set[int],
                 query: str) -> np.ndarray:
    """What the fitted confidence looks at, of the first hit of ``ranked``: the formula's
    confidence, its weighted score, cosine and saturated BM25, the margins of weighted
    score and cosine to the second article, whether its best chunk is a question, and
    the query's length (log of its words), and its fused score (Hit.score: the article's
    best and second best chunk, BM25 relative to max(best, floor)), its raw BM25, and
    (filled in by :func:`collect`) its fused score without the second chunk."""
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    cosine = best.cosine if best.cosine is not None else 0.0
    second_cosine = second.cosine if second is not None and second.cosine is not None else 0.0
    return np.array([confidence(best), best.weighted, cosine,
                     min(1.0, best.keyword / KEYWORD_SATURATION),
                     best.weighted - (second.weighted if second is not None else 0.0),
                     cosine - second_cosine, float(best.row in question_rows),
                     math.log1p(len(query.split())), best.score, best.keyword, best.score],
                    dtype=np.float64)


@dataclass(frozen=True)
class ConfidenceModel:
    """P(the first article is right) as a logistic function of :func:`hit_features`,
    fitted on the KB's own questions searched without themselves (:func:`self_search`)."""
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    examples: int = 0
    features: tuple[str, ...] = FEATURES

    def probability(self, x: np.ndarray) -> float:
        z = (np.asarray(x, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)
        return float(1.0 / (1.0 + math.exp(-float(np.clip(z @ np.array(self.coef) + self.intercept,
                                                          -30, 30)))))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "examples": self.examples}

    @classmethod
    def from_dict(cls, data: dict | None) -> ConfidenceModel | None:
        """None (use the formula) when absent or fitted on other features."""
        if not isinstance(data, dict) or tuple(data.get("features", ())) != FEATURES:
            return None
        try:
            return cls(tuple(map(float, data["mean"])), tuple(map(float, data["scale"])),
                       tuple(map(float, data["coef"])), float(data["intercept"]),
                       int(data.get("examples", 0)))
        except (KeyError, TypeError, ValueError):
            return None


def fit_confidence(x: np.ndarray, y: np.ndarray, l2: float = CALIBRATION_L2,
                   min_examples: int = MIN_SELF_EXAMPLES) -> ConfidenceModel | None:
    """Ridge-penalised logistic regression (Newton steps) of ``y`` on ``x``; None when
    either class has fewer than ``min_examples`` rows (too little to fit)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) == 0 or min(int(y.sum()), int(len(y) - y.sum())) < min_examples:
        return None
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0                      # the intercept is not penalised
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return ConfidenceModel(tuple(mean.tolist()), tuple(scale.tolist()), tuple(w[:-1].tolist()),
                           float(w[-1]), len(x))


SELF_SEARCH_LIMIT = 2000   # front-matter questions searched (a fixed sample beyond this)


def self_search(index, limit: int = SELF_SEARCH_LIMIT, seed: int = 0,
                leave_article_out: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Examples to fit the confidence on, from the KB alone: each front-matter question
    searched as a customer's question with its own chunk left out (label: the first
    article is its article) and, with ``leave_article_out``, with its whole article left
    out (label 0: an out-of-scope question near the KB). Rows of :func:`hit_features`."""
    with index._lock:
        rows = sorted(index._question_rows)
        if len(rows) > limit:
            rows = sorted(np.random.default_rng(seed).choice(rows, limit, replace=False).tolist())
        vectors = index._store.vectors(rows) if rows else np.zeros((0, index.dimension), np.float32)
        article_rows: dict[str, np.ndarray] = {}
        features, labels = [], []
        for row, vector in zip(rows, vectors):
            article_id = index._row_article[row]
            query = index.correct(index._row_chunks[row].text)
            allowed = index._alive.copy()
            allowed[row] = False
            trials = [(allowed, True)]
            if leave_article_out:
                if article_id not in article_rows:
                    article_rows[article_id] = np.array(
                        [a == article_id for a in index._row_article], dtype=bool)
                trials.append((index._alive & ~article_rows[article_id], False))
            for mask, own in trials:
                ranked = index._ranked(query, vector, EVAL_K, "internal", "hybrid", allowed=mask)
                if ranked:
                    features.append(hit_features(ranked, index._question_rows, query))
                    labels.append(own and ranked[0].article_id == article_id)
    return (np.array(features, dtype=np.float64).reshape(-1, len(FEATURES)),
            np.array(labels, dtype=bool))




def collect(index, questions, oos_texts):
    texts = [q["question"] for q in questions] + oos_texts
    vectors = index.embedder.encode([index.correct(t) for t in texts])
    audiences = [_audience(index, q) for q in questions] + ["public"] * len(oos_texts)
    x, correct = [], []
    for i, (t, a, v) in enumerate(zip(texts, audiences, vectors)):
        ranked = index.rank(t, EVAL_K, a, vector=v)
        features = (hit_features(ranked, index._question_rows, index.correct(t)) if ranked
                    else np.zeros(len(FEATURES)))
        if ranked:   # the first article's fused score without the second-chunk term
            old = search_module.SECOND_CHUNK_WEIGHT
            search_module.SECOND_CHUNK_WEIGHT = 0.0
            try:
                alone = index.rank(t, EVAL_K, a, vector=v)
            finally:
                search_module.SECOND_CHUNK_WEIGHT = old
            features[FEATURES.index("best chunk")] = next(
                r.score for r in alone if r.article_id == ranked[0].article_id)
        x.append(features)
        if i < len(questions):
            correct.append(bool(ranked) and ranked[0].article_id in questions[i]["article_ids"])
    return np.array(x), np.array(correct, dtype=bool)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="var/kb_index")
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--hint3", required=True)
    parser.add_argument("--cache", help="save the features collected here (pickle)")
    parser.add_argument("--from-cache", help="score the features saved with --cache")
    args = parser.parse_args()
    if args.from_cache:
        with open(args.from_cache, "rb") as handle:
            return report(pickle.load(handle))
    own = open_index(args.index, source_dir=args.source)
    questions = load_questions("data/eval/kb_questions.jsonl")
    oos = [q["question"] for q in load_questions("data/eval/out_of_scope.jsonl")]
    extra = hint3_messages(args.hint3)
    pool = oos + [t[:1000] for texts in extra.values() for t in texts]
    sources = ["own"] * len(oos) + [f"HINT3 {b}" for b, texts in extra.items() for _ in texts]
    plain = [replace(a, questions=(), question_sections=()) for a in load_articles(args.source)]
    imported, _ = build_articles(plain, f"{args.index}_imported", own.embedder)
    sets = [("ours", own, questions, pool, sources), ("ours imported", imported, questions, pool, sources)]
    for foreign in hint3_sets(args.hint3):
        folder = f"{args.index}_{foreign.name.lower().replace(' ', '_')}"
        index, _ = build_articles(foreign.articles, folder, own.embedder)
        texts = [q["question"] for q in foreign.out_of_scope]
        sets.append((foreign.name, index, foreign.questions, texts, ["own"] * len(texts)))

    collected = {}
    for name, index, qs, oos_texts, srcs in sets:
        x, correct = collect(index, qs, oos_texts)
        started = time.perf_counter()
        sx, sy = self_search(index, leave_article_out=False)
        sx2, sy2 = self_search(index, leave_article_out=True)
        took = time.perf_counter() - started
        print(f"{name}: self-search {len(sy)} questions ({sy.mean() if len(sy) else 0:.1%} right), "
              f"with leave-article-out {len(sy2)} examples, {took:.2f} s for both", flush=True)
        collected[name] = (x, correct, len(qs), srcs, (sx, sy), (sx2, sy2))
    if args.cache:
        with open(args.cache, "wb") as handle:
            pickle.dump(collected, handle)
    return report(collected)


FORMULA_GRID = [(base, bonus, saturation) for base in ("weighted", "fused", "best chunk")
                for bonus in (0.0, 0.15, 0.3, 0.45, 0.6, 0.9) for saturation in (4.0, 8.0, 12.0, 16.0)]


def formula_variant(x: np.ndarray, base: str, bonus: float, saturation: float) -> np.ndarray:
    """The formula's shape, (score + bonus * min(1, bm25 / saturation)) / (1 + bonus)."""
    score = x[:, {"weighted": 1, "fused": 8, "best chunk": 10}[base]]
    return (score + bonus * np.minimum(1.0, x[:, 9] / saturation)) / (1 + bonus)


def nested_cv(correct: np.ndarray, x: np.ndarray, n: int, max_oos: float = MAX_OOS_ANSWERED,
              folds: int = CV_FOLDS, repeats: int = CV_REPEATS, seed: int = 0) -> float:
    """Held-out answered correctly when the formula's constants *and* the threshold are
    chosen on the training folds (the grid point answering most training questions
    correctly at its own threshold), measured on the fold left out (same splits as
    evaluate.cross_validate)."""
    confs = {key: formula_variant(x, *key) for key in FORMULA_GRID}
    rng = np.random.default_rng(seed)
    n_oos = len(x) - n
    hits = total = 0
    for _ in range(repeats):
        q_folds = np.array_split(rng.permutation(n), folds)
        o_folds = np.array_split(rng.permutation(n_oos), folds)
        for k in range(folds):
            train_q = np.concatenate([q_folds[j] for j in range(folds) if j != k])
            train_o = np.concatenate([o_folds[j] for j in range(folds) if j != k])
            best, best_key = -1.0, None
            for key, conf in confs.items():
                threshold = choose_threshold(conf[n:][train_o], max_oos)
                got = float((correct[train_q] & (conf[:n][train_q] >= threshold)).mean())
                if got > best:
                    best, best_key, best_threshold = got, key, threshold
            conf = confs[best_key]
            test_q = q_folds[k]
            hits += int((correct[test_q] & (conf[:n][test_q] >= best_threshold)).sum())
            total += len(test_q)
    return hits / total


SUBSETS = {"all 11": list(range(11)), "formula only": [0], "formula + margins": [0, 4, 5],
           "formula + weighted margin": [0, 4], "formula, cosine, keyword": [0, 2, 3]}


def report(collected: dict) -> int:
    l2s = (1.0, 100.0)
    results: dict[str, dict] = {}
    nested: dict[str, float] = {}
    grid_scores: dict[str, dict] = {}
    for name, (x, correct, n, srcs, loo, lao) in collected.items():
        formula = x[:, 0]
        row = {"formula": cross_validate(correct, formula[:n], formula[n:], srcs)}
        # the formula with the fused score (second chunk, floor) in place of the weighted one
        fused = formula_variant(x, "fused", 0.3, 8.0)
        row["formula on the fused score"] = cross_validate(correct, fused[:n], fused[n:], srcs)
        nested[name] = nested_cv(correct, x, n)
        in_sample = {}
        for key in FORMULA_GRID:
            conf = formula_variant(x, *key)
            threshold = choose_threshold(conf[n:])
            in_sample[key] = float((correct & (conf[:n] >= threshold)).mean())
        grid_scores[name] = in_sample
        for label, (fx, fy) in (("loo", loo), ("loo+lao", lao)):
            for subset, cols in SUBSETS.items():
                for l2 in l2s:
                    model = fit_confidence(fx[:, cols], fy, l2=l2)
                    key = (f"{label}, {subset}", l2)
                    if model is None:
                        row[key] = row["formula"]
                        continue
                    p = np.array([model.probability(f) for f in x[:, cols]])
                    row[key] = cross_validate(correct, p[:n], p[n:], srcs)
        results[name] = row

    names = list(results)
    keys = list(results[names[0]])
    print("\nheld out (5x5-fold threshold): in-scope answered correctly / out-of-scope answered\n")
    print("| confidence | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for key in keys:
        label = key if isinstance(key, str) else f"fitted {key[0]}, L2 {key[1]:g}"
        print(f"| {label} | " + " | ".join(
            f"{results[n][key].answered_correctly:.1%} / {results[n][key].oos_answered:.1%}"
            for n in names) + " |")
    print("\nleave one set out: the fitted variant with the best worst gain over the formula "
          "on the other sets, measured on the one left out:\n")
    print("| left out | chosen | gain held out |\n| --- | --- | --- |")
    gain = {k: {n: results[n][k].answered_correctly - results[n]["formula"].answered_correctly
                for n in names} for k in keys if not isinstance(k, str)}
    for name in names:
        best = max(gain, key=lambda k: (min(v for n, v in gain[k].items() if n != name),
                                        np.mean([v for n, v in gain[k].items() if n != name])))
        print(f"| {name} | {best[0]} L2 {best[1]:g} | {gain[best][name]:+.1%} |")
    print("\nthe formula's constants (score, bonus, saturation) chosen by nested CV on each set "
          "(constants and threshold on the training folds), held out answered correctly:\n")
    print("| | " + " | ".join(names) + " |\n| --- |" + " --- |" * len(names))
    print("| formula as is | " + " | ".join(f"{results[n]['formula'].answered_correctly:.1%}"
                                            for n in names) + " |")
    print("| nested CV | " + " | ".join(f"{nested[n]:.1%}" for n in names) + " |")
    print("\nleave one set out: the constants best on average (in-sample) over the other sets, "
          "in-sample gain on the one left out over the formula (weighted, 0.3, 8):\n")
    print("| left out | chosen | gain |\n| --- | --- | --- |")
    for name in names:
        others = [n for n in names if n != name]
        best = max(FORMULA_GRID, key=lambda k: np.mean([grid_scores[n][k] - grid_scores[n][("weighted", 0.3, 8.0)]
                                                        for n in others]))
        print(f"| {name} | {best} | {grid_scores[name][best] - grid_scores[name][('weighted', 0.3, 8.0)]:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

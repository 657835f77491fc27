"""How the fusion of BM25 and dense candidates is chosen so that it holds on every set.

The sets are the ones ``python -m kb_index eval --hint3 DIR`` measures: our KB as shipped
(front-matter questions), the same articles imported without them, the foreign FAQ sets
imported as is, titles and answers (kb_index.evaluate.faq_set; COVID-QA), and HINT3's
three support bots as foreign KBs (kb_index.evaluate.hint3_sets). The candidate lists of both
retrievers are collected once per question; every fusion variant is then scored from
them (Recall@1 of the article ranking; the same code path as ``Index.rank``).

A variant's constant is chosen leaving one set out: the value with the best *worst
margin* (hybrid Recall@1 minus the better of dense and BM25) over the other sets, then
measured on the set left out. The figure to trust is that held-out margin per set.
The result and the choice (weight 0.7, floor 12, arbiter 2, second chunk 0.4, article
vector 0.1):
docs/kb_index.md, "Fusion on every set".

    PYTHONPATH=. .venv/bin/python bench/eval_fusion.py --hint3 ../shared/data/hint3
"""
from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kb_index import search as search_module  # noqa: E402
from kb_index.articles import load_articles  # noqa: E402
from kb_index.building import build_articles, open_index  # noqa: E402
from kb_index.evaluate import (EVAL_K, FAQ_SETS, _audience, faq_set, hint3_sets,  # noqa: E402
                               load_questions)


def collect(index, questions: list[dict]) -> tuple:
    """Per question: (dense candidates, BM25 candidates, gold); then row -> article, the
    question rows, and extras for scoring other evidence offline (query vectors, every
    chunk's vector and kind, the articles' titles)."""
    texts = [index.correct(q["question"]) for q in questions]
    vectors = index.embedder.encode(texts)
    out = []
    with index._lock:
        for q, text, vector in zip(questions, texts, vectors):
            allowed = index._allowed(_audience(index, q))
            depth = search_module.candidate_depth(EVAL_K)   # as the chat action searches
            dense = index._store.search(vector, depth, allowed)
            rows, scores = index._keyword.top(text, depth, allowed[index._keyword_rows])
            out.append((dense, (index._keyword_rows[rows], scores), set(q["article_ids"])))
        extras = {"queries": texts, "query_vectors": np.asarray(vectors, dtype=np.float32),
                  "vectors": index._store.all_vectors(),
                  "kinds": [c.kind if c is not None else None for c in index._row_chunks],
                  "headings": [c.heading if c is not None else None for c in index._row_chunks],
                  "titles": {a.id: a.title for a in index._articles.values()}}
    return out, index._row_article, index._question_rows, extras


def recall_at_1(collected, method: str, fusion: str, whole_articles: bool = False) -> float:
    """``whole_articles``: give the fusion the articles' chunk counts and vectors, as
    ``Index`` does since issue 16's fourth round (search.ArticleEvidence)."""
    items, row_article, question_rows = collected[:3]
    evidence = article_evidence(collected) if whole_articles else [None] * len(items)
    hits = 0
    for (dense, keyword, gold), articles in zip(items, evidence):
        ranked = search_module.fuse(dense, keyword, row_article, method, fusion, question_rows,
                                    articles if method == "hybrid" else None)
        hits += bool(ranked) and ranked[0].article_id in gold
    return hits / len(items)


class CachedArticles:
    """search.ArticleEvidence from the collected extras, as ``index._ArticleEvidence``
    computes it: each article's chunk count and the unit mean of its chunks' vectors."""

    def __init__(self, chunks: dict[str, int], cosines: np.ndarray, slot: dict[str, int]) -> None:
        self._chunks, self._cosines, self._slot = chunks, cosines, slot

    def chunks(self, article_id: str) -> int:
        return self._chunks[article_id]

    def cosine(self, article_id: str) -> float:
        return float(self._cosines[self._slot[article_id]])


_EVIDENCE: dict[int, list] = {}


def article_evidence(collected) -> list:
    """Per question, a :class:`CachedArticles` (a cache saved before the extras: ``None``)."""
    if id(collected) not in _EVIDENCE:
        items, row_article = collected[0], collected[1]
        if len(collected) < 4:
            _EVIDENCE[id(collected)] = [None] * len(items)
            return _EVIDENCE[id(collected)]
        extras = collected[3]
        rows: dict[str, list[int]] = {}
        for row, article_id in enumerate(row_article):
            if article_id is not None:
                rows.setdefault(article_id, []).append(row)
        ids = list(rows)
        means = np.stack([extras["vectors"][rows[a]].mean(axis=0) for a in ids])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        table = extras["query_vectors"] @ means.T       # (questions, articles)
        slot = {a: j for j, a in enumerate(ids)}
        chunks = {a: len(r) for a, r in rows.items()}
        _EVIDENCE[id(collected)] = [CachedArticles(chunks, table[i], slot) for i in range(len(items))]
    return _EVIDENCE[id(collected)]


# every variant starts from the plain weighted sum: no floor, no arbiter
PLAIN = {"DENSE_WEIGHT": 0.7, "BM25_FLOOR": 0.0, "SHORTLIST": 0, "RRF_K": 60, "SECOND_CHUNK_WEIGHT": 0.0,
         "ARTICLE_VECTOR_WEIGHT": 0.0}


def with_constants(**constants):
    """Set module constants of kb_index.search for one measurement."""
    old = {k: getattr(search_module, k) for k in constants}
    for k, v in constants.items():
        setattr(search_module, k, v)
    return old


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="var/kb_index")
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--questions", default="data/eval/kb_questions.jsonl")
    parser.add_argument("--hint3", required=True)
    parser.add_argument("--cache", help="save the collected candidates here (pickle)")
    parser.add_argument("--from-cache", help="score the candidates saved with --cache")
    args = parser.parse_args()
    if args.from_cache:
        with open(args.from_cache, "rb") as handle:
            return report(pickle.load(handle))
    own = open_index(args.index, source_dir=args.source)
    questions = load_questions(args.questions)
    plain = [replace(a, questions=(), question_sections=()) for a in load_articles(args.source)]
    imported, _ = build_articles(plain, f"{args.index}_imported", own.embedder)
    sets = {"own": collect(own, questions), "own imported": collect(imported, questions)}
    for foreign in map(faq_set, FAQ_SETS):
        index, _ = build_articles(foreign.articles, f"{args.index}_{foreign.name}", own.embedder)
        sets[foreign.name] = collect(index, foreign.questions)
    for foreign in hint3_sets(args.hint3):
        folder = f"{args.index}_{foreign.name.lower().replace(' ', '_')}"
        index, _ = build_articles(foreign.articles, folder, own.embedder)
        sets[foreign.name] = collect(index, foreign.questions)
    if args.cache:
        with open(args.cache, "wb") as handle:
            pickle.dump(sets, handle)
    return report(sets)


def report(sets: dict) -> int:
    singles = {name: {m: recall_at_1(c, m, "weighted") for m in ("dense", "bm25")}
               for name, c in sets.items()}
    print("| set | n | dense | BM25 |\n| --- | --- | --- | --- |")
    for name, c in sets.items():
        print(f"| {name} | {len(c[0])} | {singles[name]['dense']:.3f} | {singles[name]['bm25']:.3f} |")

    variants = {
        "weighted": [{"DENSE_WEIGHT": w, "BM25_FLOOR": f}
                     for w in (0.5, 0.6, 0.7, 0.8, 0.9) for f in (0.0, 5.0, 8.0, 12.0, 16.0, 24.0)],
        "zscore": [{"DENSE_WEIGHT": w} for w in (0.5, 0.6, 0.7, 0.8, 0.9)],
        "weighted + shortlist": [{"DENSE_WEIGHT": w, "BM25_FLOOR": f, "SHORTLIST": n}
                                 for w in (0.6, 0.7, 0.8) for f in (0.0, 8.0, 12.0) for n in (1, 2)],
        "rrf": [{"RRF_K": k} for k in (10, 60)],
        # issue 16, third round: the article's second best chunk, with a wider arbiter
        "weighted + shortlist + second chunk": [
            {"DENSE_WEIGHT": w, "BM25_FLOOR": 12.0, "SHORTLIST": n, "SECOND_CHUNK_WEIGHT": a}
            for w in (0.6, 0.7, 0.8) for n in (1, 2, 3) for a in (0.1, 0.2, 0.3, 0.4, 0.5)],
        # issue 16, fourth round: whole articles: a one-chunk article is not penalised for
        # having no second chunk, and + the query's cosine with the article's vector
        "weighted + shortlist + second chunk + whole article": [
            {"DENSE_WEIGHT": w, "BM25_FLOOR": 12.0, "SHORTLIST": n, "SECOND_CHUNK_WEIGHT": a,
             "ARTICLE_VECTOR_WEIGHT": v}
            for w in (0.6, 0.7, 0.8) for n in (2, 3) for a in (0.3, 0.4, 0.5)
            for v in (0.0, 0.05, 0.1, 0.15, 0.2)],
    }
    table: dict[tuple[str, object], dict[str, float]] = {}
    for fusion, grid in variants.items():
        for constants in grid:
            old = with_constants(**{**PLAIN, **constants})
            try:
                key = (fusion, tuple(sorted(constants.items())))
                table[key] = {name: recall_at_1(c, "hybrid", fusion.split()[0], "whole article" in fusion)
                                    - max(singles[name].values()) for name, c in sets.items()}
            finally:
                with_constants(**old)
    print("\nhybrid Recall@1 minus the better single retriever, every variant (in-sample):\n")
    names = list(sets)
    print("| fusion | constants | " + " | ".join(names) + " | worst |")
    print("| --- | --- |" + " --- |" * (len(names) + 1))
    for (fusion, constants), margins in table.items():
        print(f"| {fusion} | {dict(constants)} | " + " | ".join(f"{margins[n]:+.3f}" for n in names)
              + f" | {min(margins.values()):+.3f} |")

    print("\nleave one set out: the variant with the best worst margin on the others, "
          "measured on the one left out:\n")
    print("| left out | chosen | margin held out |\n| --- | --- | --- |")
    for name in names:
        best = max(table, key=lambda k: (min(v for n, v in table[k].items() if n != name),
                                         np.mean([v for n, v in table[k].items() if n != name])))
        print(f"| {name} | {best[0]} {dict(best[1])} | {table[best][name]:+.3f} |")

    # the fourth round's constant alone, the third round's kept (its second-chunk weight is
    # also in the confidence's score, whose threshold is chosen on it)
    kept = {"DENSE_WEIGHT": 0.7, "BM25_FLOOR": 12.0, "SHORTLIST": 2, "SECOND_CHUNK_WEIGHT": 0.4}
    alone = [k for k in table if k[0].endswith("whole article")
             and all(dict(k[1])[c] == v for c, v in kept.items())]
    print(f"\nleave one set out, the article-vector weight alone ({kept} kept):\n")
    print("| left out | chosen | margin held out |\n| --- | --- | --- |")
    for name in names:
        best = max(alone, key=lambda k: (min(v for n, v in table[k].items() if n != name),
                                         np.mean([v for n, v in table[k].items() if n != name])))
        print(f"| {name} | {dict(best[1])['ARTICLE_VECTOR_WEIGHT']} | {table[best][name]:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

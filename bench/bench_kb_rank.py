"""What the fusion's whole-article evidence costs a search (docs/kb_index.md, "Fusion on every set").

Times ``Index._ranked`` (both retrievers' candidates and ``search.fuse``, the query already
embedded) over the eval questions on the real index, with and without the articles' chunk
counts and vectors (``index._ArticleEvidence``). Each article's vector is computed on first
use after a load or a change, so the first pass over the questions is reported apart.

    PYTHONPATH=. .venv/bin/python bench/bench_kb_rank.py [--index var/kb_index] [--rounds 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kb_index import index as index_module  # noqa: E402
from kb_index import open_index  # noqa: E402
from kb_index.evaluate import EVAL_K, load_questions  # noqa: E402


def timed(index, queries, vectors, evidence, passes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per search: the first pass (article vectors computed) and the others."""
    index_module._ArticleEvidence = evidence
    with index._lock:
        index._article_vectors = {}          # as after a load or a change
    times = []
    for _ in range(passes):
        for query, vector in zip(queries, vectors):
            start = time.perf_counter()
            with index._lock:
                index._ranked(query, vector, EVAL_K, "internal", "hybrid")
            times.append((time.perf_counter() - start) * 1000)
    return np.array(times[:len(queries)]), np.array(times[len(queries):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="var/kb_index")
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--questions", default="data/eval/kb_questions.jsonl")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    index = open_index(args.index, source_dir=args.source)
    queries = [index.correct(q["question"]) for q in load_questions(args.questions)]
    vectors = index.embedder.encode(queries)
    real = index_module._ArticleEvidence
    variants = {"without article evidence": lambda *_: None, "with chunk counts and article vectors": real}
    try:
        for _ in range(args.rounds):
            for label, evidence in variants.items():
                first, warm = timed(index, queries, vectors, evidence)
                print(f"{label}: p50 {np.percentile(warm, 50):.3f} ms, p95 {np.percentile(warm, 95):.3f} ms "
                      f"(first pass: p50 {np.percentile(first, 50):.3f}, p95 {np.percentile(first, 95):.3f})")
    finally:
        index_module._ArticleEvidence = real
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Query latency of the KB index at 1k, 100k and 1M chunks (synthetic vectors).

For each size: build the vector store the index would use (exact below the HNSW
threshold, HNSW from it), then measure per query

- search: FAISS search with the audience mask, as ``Index.search`` does it,
- embedding + search: the real model embedding a customer question, plus the search,
- HNSW recall@10 against exact search (sizes where the store is HNSW),
- index memory, and BM25 (bm25s) latency over synthetic texts of the same size.

Synthetic vectors are clustered (random centres plus noise, normalised) because
uniformly random 384-d vectors have no neighbours worth finding and make HNSW look
worse than on real embeddings.

    .venv/bin/python bench/bench_kb_query.py                       # 1k, 100k, 1M
    .venv/bin/python bench/bench_kb_query.py --sizes 1000,100000 --queries 200
    .venv/bin/python bench/bench_kb_query.py --sizes "" --kb-turn   # the real KB only

``--kb-turn`` also times a KB turn on the real index (``--kb-index``, the eval questions):
``Index.search(q, k=4)`` whole, and inside it the choice of the answering section for the
4 hits (sections.py), which is what the section-level answers added to a turn.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runs from the repo root as documented

import numpy as np  # noqa: E402

from kb_index import Embedder, settings  # noqa: E402
from kb_index.bm25 import KeywordIndex  # noqa: E402
from kb_index.store import VectorStore  # noqa: E402

DIMENSION = 384
QUESTIONS = ["i forgot my pasword", "where is my parcel", "how do i return a jacket",
             "my card was charged twice", "cancel my subscription", "reset two factor codes",
             "refund has not arrived after two weeks", "change delivery address on my order"]


def clustered_vectors(n: int, rng: np.random.Generator, centres: np.ndarray,
                      noise: float = 0.8) -> np.ndarray:
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, len(centres), m)]
        block += noise * rng.standard_normal((m, DIMENSION), dtype=np.float32) / np.sqrt(DIMENSION)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + m] = block
    return out


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    """Exact top-10 rows by inner product, in blocks (no second copy of the vectors)."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = queries @ vectors[start:start + 200_000].T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        all_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        all_rows = np.hstack([best_rows, top + start])
        keep = np.argsort(-all_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, keep, 1)
        best_rows = np.take_along_axis(all_rows, keep, 1)
    return best_rows.tolist()


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def synthetic_texts(n: int, rng: np.random.Generator, vocabulary: int = 20_000) -> list[str]:
    words = [f"w{i}" for i in range(vocabulary)]
    ranks = np.minimum(rng.zipf(1.3, size=(n, 30)), vocabulary) - 1
    return [" ".join(words[r] for r in row) for row in ranks]


def bench_size(n: int, args, embedder: Embedder, rng: np.random.Generator) -> dict:
    centres = rng.standard_normal((max(100, n // 100), DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered_vectors(n, rng, centres)
    queries = clustered_vectors(args.queries, rng, centres)
    started = time.perf_counter()
    store = VectorStore.from_vectors(vectors, DIMENSION, args.hnsw_threshold, args.ef_search)
    build_s = time.perf_counter() - started
    allowed = rng.random(n) < 0.8            # e.g. public chunks: 80 %
    search_ms = []
    for q in queries:
        t = time.perf_counter()
        store.search(q, 50, allowed)
        search_ms.append((time.perf_counter() - t) * 1000)
    total_ms = []
    for i in range(args.queries):
        t = time.perf_counter()
        vector = embedder.encode([QUESTIONS[i % len(QUESTIONS)] + f" {i}"])[0]
        store.search(vector, 50, allowed)
        total_ms.append((time.perf_counter() - t) * 1000)
    row = {"chunks": n, "index": store.kind, "build_s": round(build_s, 1),
           "memory_mb": round(store.memory_bytes() / 2**20, 1),
           "search_p50_ms": percentiles(search_ms)[0], "search_p99_ms": percentiles(search_ms)[1],
           "embed_search_p50_ms": percentiles(total_ms)[0],
           "embed_search_p99_ms": percentiles(total_ms)[1]}
    if store.kind == "hnsw":
        sample = queries[: args.recall_queries]
        truth = exact_top10(vectors, sample)
        found = sum(len(set(t) & set(store.search(q, 10)[0].tolist())) for q, t in zip(sample, truth))
        row["hnsw_recall_at_10"] = round(found / (10 * len(sample)), 4)
        row["ef_sweep"] = []
        for ef in (int(e) for e in args.ef_sweep.split(",") if e):
            store.ef_search = ef
            timings, found = [], 0
            for q, t in zip(sample, truth):
                started = time.perf_counter()
                rows = store.search(q, 10)[0]
                timings.append((time.perf_counter() - started) * 1000)
                found += len(set(t) & set(rows.tolist()))
            row["ef_sweep"].append({"ef_search": ef, "recall_at_10": round(found / (10 * len(sample)), 4),
                                    "p50_ms": percentiles(timings)[0], "p99_ms": percentiles(timings)[1]})
        store.ef_search = args.ef_search
    del vectors, store
    if n <= args.bm25_max:
        texts = synthetic_texts(n, rng)
        started = time.perf_counter()
        keyword = KeywordIndex(texts)
        row["bm25_build_s"] = round(time.perf_counter() - started, 1)
        bm25_ms = []
        for i in range(args.queries):
            query = " ".join(texts[i % n].split()[:5])
            t = time.perf_counter()
            keyword.top(query, 50)
            bm25_ms.append((time.perf_counter() - t) * 1000)
        row["bm25_p50_ms"], row["bm25_p99_ms"] = percentiles(bm25_ms)
    return row


def bench_kb_turn(index_dir: str, questions_path: str, embedder: Embedder, rounds: int) -> dict:
    """A KB turn on the real index: whole search, and the section choice within it."""
    from kb_index import open_index
    from kb_index.evaluate import load_questions

    index = open_index(index_dir, embedder=embedder)
    questions = [q["question"] for q in load_questions(questions_path)]
    turn_ms, section_ms = [], []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            index.search(question, k=4)
            turn_ms.append((time.perf_counter() - started) * 1000)
            vector = embedder.encode([index.correct(question)])[0]
            ranked = index.rank(question, 4, vector=vector)[:4]
            started = time.perf_counter()
            for hit in ranked:
                index.shown_section(hit, question, vector)
            section_ms.append((time.perf_counter() - started) * 1000)
    p = lambda xs, q: round(float(np.percentile(xs, q)), 2)  # noqa: E731
    return {"queries": len(turn_ms), "turn_p50_ms": p(turn_ms, 50), "turn_p95_ms": p(turn_ms, 95),
            "sections_p50_ms": p(section_ms, 50), "sections_p95_ms": p(section_ms, 95),
            "sections_max_ms": round(max(section_ms), 2)}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs (nproc), {model}, load average {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--hnsw-threshold", type=int, default=settings.get("hnsw_threshold"))
    parser.add_argument("--ef-search", type=int, default=settings.get("hnsw_ef_search"))
    parser.add_argument("--ef-sweep", default="64,128,256,512",
                        help="efSearch values whose recall and latency are also measured")
    parser.add_argument("--bm25-max", type=int, default=1_000_000,
                        help="largest size at which BM25 is measured too")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--kb-turn", action="store_true", help="also time KB turns on the real index")
    parser.add_argument("--kb-index", default=settings.get("index_dir"))
    parser.add_argument("--kb-questions", default="data/eval/kb_questions.jsonl")
    parser.add_argument("--kb-rounds", type=int, default=2, help="passes over the questions")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    embedder = Embedder()
    embedder.encode(["warm up"])
    print(f"machine: {machine()}")
    if args.kb_turn:
        turn = bench_kb_turn(args.kb_index, args.kb_questions, embedder, args.kb_rounds)
        print(json.dumps({"kb_turn": turn}))
        print(f"KB turn (search k=4, {turn['queries']} queries): p50 {turn['turn_p50_ms']} ms, "
              f"p95 {turn['turn_p95_ms']} ms; of which choosing the 4 answering sections: "
              f"p50 {turn['sections_p50_ms']} ms, p95 {turn['sections_p95_ms']} ms, "
              f"max {turn['sections_max_ms']} ms; load average {os.getloadavg()[0]:.1f}")
    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        row = bench_size(n, args, embedder, rng)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| chunks | index | build s | memory MB | search p50/p99 ms | embed+search p50/p99 ms "
          "| HNSW recall@10 | BM25 p50/p99 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        bm25 = f"{r['bm25_p50_ms']:.1f} / {r['bm25_p99_ms']:.1f}" if "bm25_p50_ms" in r else "–"
        print(f"| {r['chunks']:,} | {r['index']} | {r['build_s']} | {r['memory_mb']} "
              f"| {r['search_p50_ms']:.2f} / {r['search_p99_ms']:.2f} "
              f"| {r['embed_search_p50_ms']:.1f} / {r['embed_search_p99_ms']:.1f} "
              f"| {r.get('hnsw_recall_at_10', '–')} | {bm25} |")
    for r in rows:
        for sweep in r.get("ef_sweep", []):
            print(f"{r['chunks']:,} chunks, efSearch {sweep['ef_search']}: recall@10 "
                  f"{sweep['recall_at_10']}, search p50/p99 {sweep['p50_ms']:.2f} / {sweep['p99_ms']:.2f} ms")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": machine(), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()

"""Which approximate index at 1,000,000 chunks: recall@10 against exact search, latency,
build time and memory for HNSW and IVF configurations (synthetic clustered vectors, the
same generator as bench/bench_kb_query.py).

Each configuration is built once; its search parameter (efSearch, nprobe) is then swept.
Searches go through ``faiss`` with the audience mask (an ``IDSelectorBitmap`` of 80 % of
the rows) as ``VectorStore.search`` does; recall is the share of the exact top 10 *among
the allowed rows* that the index returns. Rows are printed as they finish (JSON lines),
then one Markdown table.

    nice -n 10 .venv/bin/python bench/bench_ann_sweep.py                    # ~10-20 min on 2 cores
    .venv/bin/python bench/bench_ann_sweep.py --n 200000 --configs ivf-flat   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kb_query import DIMENSION, clustered_vectors  # noqa: E402

# name -> (factory, search-parameter values swept)
CONFIGS = {
    "hnsw16-40": ("HNSW16", "ef", (128, 256, 512)),          # today's store (M 16, efConstruction 40)
    "hnsw32-80": ("HNSW32", "ef", (128, 256, 512, 1024)),
    "ivf-flat": ("IVF{nlist},Flat", "nprobe", (8, 16, 32, 64, 128)),
    "ivf-pq-refine": ("IVF{nlist},PQ48,RFlat", "nprobe", (8, 16, 32, 64, 128)),
    "opq-ivf-pq-refine": ("OPQ48,IVF{nlist},PQ48,RFlat", "nprobe", (16, 32, 64)),
}
EF_CONSTRUCTION = {"hnsw16-40": 40, "hnsw32-80": 80}


def build(name: str, vectors: np.ndarray, nlist: int, train_n: int) -> tuple[faiss.Index, float]:
    factory = CONFIGS[name][0].format(nlist=nlist)
    index = faiss.index_factory(DIMENSION, factory, faiss.METRIC_INNER_PRODUCT)
    if name in EF_CONSTRUCTION:
        index.hnsw.efConstruction = EF_CONSTRUCTION[name]
    started = time.perf_counter()
    if not index.is_trained:
        sample = vectors[np.random.default_rng(1).choice(len(vectors), min(train_n, len(vectors)), replace=False)]
        index.train(sample)
    index.add(vectors)
    return index, time.perf_counter() - started


def size_mb(index: faiss.Index) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        faiss.write_index(index, path)
        return os.path.getsize(path) / 2**20


def params_for(index: faiss.Index, kind: str, value: int, selector, k_factor: int):
    if kind == "ef":
        return faiss.SearchParametersHNSW(efSearch=value, sel=selector)
    ivf = faiss.SearchParametersIVF(nprobe=value, sel=selector)
    if isinstance(index, faiss.IndexRefine):
        return faiss.IndexRefineSearchParameters(k_factor=k_factor, base_index_params=ivf, sel=selector)
    return ivf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--configs", default="ivf-flat,ivf-pq-refine,hnsw32-80",
                        help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument("--nlist", type=int, default=0, help="IVF lists (default 2·√n, rounded)")
    parser.add_argument("--train", type=int, default=100_000, help="vectors IVF/PQ is trained on")
    parser.add_argument("--k-factor", type=int, default=8, help="RefineFlat re-ranks k·k_factor candidates")
    parser.add_argument("--threads", type=int, default=0, help="FAISS OpenMP threads (0: faiss default)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    nlist = args.nlist or int(2 ** round(np.log2(2 * np.sqrt(args.n))))
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(100, args.n // 100), DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered_vectors(args.n, rng, centres)
    queries = clustered_vectors(args.queries, rng, centres)
    allowed = rng.random(args.n) < 0.8
    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(args.n, faiss.swig_ptr(bitmap))
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    _, truth = exact.search(queries, 10, params=faiss.SearchParameters(sel=selector))
    del exact
    print(f"n={args.n:,} queries={args.queries} nlist={nlist} cpus={os.cpu_count()} "
          f"faiss={faiss.__version__} load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for name in (c for c in args.configs.split(",") if c):
        index, build_s = build(name, vectors, nlist, args.train)
        memory = size_mb(index)
        kind, values = CONFIGS[name][1], CONFIGS[name][2]
        for value in values:
            params = params_for(index, kind, value, selector, args.k_factor)
            timings, found = [], 0
            for q, t in zip(queries, truth):
                started = time.perf_counter()
                _, got = index.search(q.reshape(1, -1), 10, params=params)
                timings.append((time.perf_counter() - started) * 1000)
                found += len(set(t.tolist()) & set(got[0].tolist()))
            row = {"config": name, "factory": CONFIGS[name][0].format(nlist=nlist), kind: value,
                   "build_s": round(build_s, 1), "memory_mb": round(memory), "recall_at_10":
                   round(found / truth.size, 4), "p50_ms": round(float(np.percentile(timings, 50)), 3),
                   "p99_ms": round(float(np.percentile(timings, 99)), 3),
                   "load": round(os.getloadavg()[0], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        del index
    print("\n| config | build s | index MB | param | recall@10 | search p50 / p99 ms | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        param = f"efSearch {r['ef']}" if "ef" in r else f"nprobe {r['nprobe']}"
        print(f"| {r['factory']} | {r['build_s']} | {r['memory_mb']:,} | {param} | {r['recall_at_10']} "
              f"| {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {r['load']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

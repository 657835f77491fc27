"""Dense retrieval: a FAISS index over unit vectors, searched by inner product
(= cosine similarity).

The index type follows the number of vectors (chosen by bench/bench_ann_sweep.py, see
docs/kb_index.md "Measured"):

- below ``hnsw_threshold``: exact (``IndexFlatIP``);
- from ``hnsw_threshold``: ``IndexHNSWFlat`` (inner product), recall ≥ 0.99 at 100k chunks;
- from ``ivf_threshold``: IVF with product-quantised codes, the candidates re-ranked with
  the exact vectors (``IVF{nlist},PQ{d/8},RFlat``, nlist ≈ 2·√n, ``nprobe`` lists searched):
  at 1M chunks HNSW (M 16, efConstruction 40) finds only 0.78 of the exact top 10, this
  finds 0.97 in ~1.3 ms. Its coarse and PQ codebooks are trained once, when the store
  crosses the threshold or is rebuilt (compaction), on a sample of the vectors.

Rows are numbered in insertion order and never renumbered by the store itself.
Deleted rows stay in the FAISS index as tombstones; every search takes a boolean
``allowed`` mask (live rows of the right audience), applied inside FAISS with an
``IDSelectorBitmap`` so filtering never costs recall.  The owner compacts (rebuilds
from the live vectors) when tombstones pile up.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from . import settings

HNSW_M = 16                 # graph links per node (faiss's usual default is 32)
HNSW_EF_CONSTRUCTION = 40   # build breadth; recall is then recovered by efSearch
IVF_TRAIN_SAMPLE = 50_000   # vectors the IVF lists and PQ codebooks are trained on (as measured)
IVF_REFINE_FACTOR = 8       # exact re-ranking of k × 8 PQ candidates
KINDS = ("flat", "hnsw", "ivf-pq")


def ivf_factory(dimension: int, n: int) -> str:
    """``IVF{nlist},PQ{m},RFlat`` for ``n`` vectors: nlist a power of two near 2·√n, one code
    byte per 8 dimensions (PQ48 for 384-d), the exact vectors kept for re-ranking."""
    nlist = max(16, 2 ** round(math.log2(2 * math.sqrt(max(n, 1)))))
    return f"IVF{nlist},PQ{max(1, dimension // 8)},RFlat"


class VectorStore:
    def __init__(self, dimension: int, hnsw_threshold: int = 50_000, ef_search: int = 128,
                 index: faiss.Index | None = None, ivf_threshold: int | None = None,
                 nprobe: int | None = None) -> None:
        self.dimension = dimension
        self.hnsw_threshold = hnsw_threshold
        self.ef_search = ef_search
        self.ivf_threshold = int(settings.get("ivf_threshold", ivf_threshold))  # type: ignore[arg-type]
        self.nprobe = int(settings.get("ivf_nprobe", nprobe))  # type: ignore[arg-type]
        self._index = index if index is not None else faiss.IndexFlatIP(dimension)
        if self._index.d != dimension:
            raise ValueError(f"FAISS index has dimension {self._index.d}, expected {dimension}")

    # ---- building -------------------------------------------------------------------

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, dimension: int, hnsw_threshold: int = 50_000,
                     ef_search: int = 128, ivf_threshold: int | None = None,
                     nprobe: int | None = None) -> VectorStore:
        """A new store holding ``vectors`` as rows 0..n-1, exact, HNSW or IVF-PQ by size."""
        store = cls(dimension, hnsw_threshold, ef_search, ivf_threshold=ivf_threshold, nprobe=nprobe)
        store.add(vectors)
        return store

    def kind_for(self, n: int) -> str:
        if n >= self.ivf_threshold:
            return "ivf-pq"
        return "hnsw" if n >= self.hnsw_threshold else "flat"

    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Append ``vectors`` (unit length, float32); returns their row numbers.

        Crossing ``hnsw_threshold`` or ``ivf_threshold`` moves every row to the bigger index
        type (one full build)."""
        vectors = _as_matrix(vectors, self.dimension)
        first = self.n_rows
        wanted = self.kind_for(first + len(vectors))
        if KINDS.index(wanted) > KINDS.index(self.kind):
            everything = np.vstack([self.all_vectors(), vectors])
            self._index = _new_index(self.dimension, wanted, everything)
            self._index.add(everything)
        elif len(vectors):
            self._index.add(vectors)
        return np.arange(first, first + len(vectors), dtype=np.int64)

    # ---- reading --------------------------------------------------------------------

    @property
    def kind(self) -> str:
        if isinstance(self._index, faiss.IndexRefine):
            return "ivf-pq"
        return "hnsw" if isinstance(self._index, faiss.IndexHNSW) else "flat"

    @property
    def n_rows(self) -> int:
        return int(self._index.ntotal)

    def all_vectors(self) -> np.ndarray:
        """Every row's vector, ``(n_rows, dimension)``, as a copy."""
        if self.n_rows == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_n(0, self.n_rows)

    def vectors(self, rows: list[int]) -> np.ndarray:
        """The vectors of ``rows``, ``(len(rows), dimension)``."""
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(r)) for r in rows])

    def memory_bytes(self) -> int:
        """Approximate RAM held by the FAISS index (vectors plus graph links)."""
        size = self.n_rows * self.dimension * 4
        if self.kind == "hnsw":
            size += int(faiss.vector_to_array(self._index.hnsw.neighbors).nbytes)
            size += int(faiss.vector_to_array(self._index.hnsw.offsets).nbytes)
        elif self.kind == "ivf-pq":  # + PQ codes and list ids (the exact vectors are counted above)
            size += self.n_rows * (self.dimension // 8 + 8)
        return size

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cosine scores)`` of the ``k`` nearest allowed rows, best first."""
        query = _as_matrix(query, self.dimension)
        k = min(k, self.n_rows)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        bitmap = None
        if allowed is not None:
            if len(allowed) != self.n_rows:
                raise ValueError(f"allowed mask has {len(allowed)} rows, index has {self.n_rows}")
            bitmap = np.packbits(allowed.astype(bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        else:
            selector = None
        base = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k), sel=selector)
        elif self.kind == "ivf-pq":
            base = faiss.SearchParametersIVF(nprobe=self.nprobe, sel=selector)
            params = faiss.IndexRefineSearchParameters(k_factor=IVF_REFINE_FACTOR, base_index_params=base,
                                                       sel=selector)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, rows = self._index.search(query, k, params=params)
        # (``bitmap`` and ``base`` had to stay alive until here: FAISS borrowed them)
        del base
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    # ---- files ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, dimension: int, hnsw_threshold: int = 50_000,
             ef_search: int = 128) -> VectorStore:
        return cls(dimension, hnsw_threshold, ef_search, index=faiss.read_index(str(path)))


def _new_index(dimension: int, kind: str, vectors: np.ndarray) -> faiss.Index:
    """An empty index of ``kind``, trained on a sample of ``vectors`` where it needs training."""
    if kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return index
    index = faiss.index_factory(dimension, ivf_factory(dimension, len(vectors)), faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = vectors if len(vectors) <= IVF_TRAIN_SAMPLE else vectors[
        np.sort(rng.choice(len(vectors), IVF_TRAIN_SAMPLE, replace=False))]
    index.train(sample)
    return index


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise ValueError(f"expected vectors of dimension {dimension}, got shape {vectors.shape}")
    return vectors

"""Dense retrieval: a FAISS index over unit vectors, searched by inner product
(= cosine similarity).

Below ``hnsw_threshold`` vectors the index is exact (``IndexFlatIP``); from there on it
is approximate (``IndexHNSWFlat`` with the inner-product metric), whose recall against
exact search is measured in ``bench/bench_kb_query.py``.

Rows are numbered in insertion order and never renumbered by the store itself.
Deleted rows stay in the FAISS index as tombstones; every search takes a boolean
``allowed`` mask (live rows of the right audience), applied inside FAISS with an
``IDSelectorBitmap`` so filtering never costs recall.  The owner compacts (rebuilds
from the live vectors) when tombstones pile up.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_M = 16                 # graph links per node (faiss's usual default is 32)
HNSW_EF_CONSTRUCTION = 40   # build breadth; recall is then recovered by efSearch


class VectorStore:
    def __init__(self, dimension: int, hnsw_threshold: int = 50_000, ef_search: int = 128,
                 index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        self.hnsw_threshold = hnsw_threshold
        self.ef_search = ef_search
        self._index = index if index is not None else faiss.IndexFlatIP(dimension)
        if self._index.d != dimension:
            raise ValueError(f"FAISS index has dimension {self._index.d}, expected {dimension}")

    # ---- building -------------------------------------------------------------------

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, dimension: int, hnsw_threshold: int = 50_000,
                     ef_search: int = 128) -> VectorStore:
        """A new store holding ``vectors`` as rows 0..n-1, exact or HNSW by size."""
        store = cls(dimension, hnsw_threshold, ef_search,
                    index=_new_index(dimension, len(vectors) >= hnsw_threshold))
        store.add(vectors)
        return store

    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Append ``vectors`` (unit length, float32); returns their row numbers.

        Crossing ``hnsw_threshold`` turns an exact index into HNSW (one full build)."""
        vectors = _as_matrix(vectors, self.dimension)
        first = self.n_rows
        if self.kind == "flat" and first + len(vectors) >= self.hnsw_threshold:
            old = self.all_vectors()
            self._index = _new_index(self.dimension, hnsw=True)
            if len(old):
                self._index.add(old)
        if len(vectors):
            self._index.add(vectors)
        return np.arange(first, first + len(vectors), dtype=np.int64)

    # ---- reading --------------------------------------------------------------------

    @property
    def kind(self) -> str:
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
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k), sel=selector)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, rows = self._index.search(query, k, params=params)
        keep = rows[0] >= 0  # (``bitmap`` had to stay alive until here: FAISS borrowed it)
        return rows[0][keep].astype(np.int64), scores[0][keep]

    # ---- files ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, dimension: int, hnsw_threshold: int = 50_000,
             ef_search: int = 128) -> VectorStore:
        return cls(dimension, hnsw_threshold, ef_search, index=faiss.read_index(str(path)))


def _new_index(dimension: int, hnsw: bool) -> faiss.Index:
    if not hnsw:
        return faiss.IndexFlatIP(dimension)
    index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise ValueError(f"expected vectors of dimension {dimension}, got shape {vectors.shape}")
    return vectors

"""VectorStore: exact below the HNSW threshold, HNSW above, filtered search, files."""

from __future__ import annotations

import numpy as np
import pytest

from kb_index.store import VectorStore


def unit_vectors(n: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_below_threshold_hnsw_from_it():
    assert VectorStore.from_vectors(unit_vectors(99), 16, hnsw_threshold=100).kind == "flat"
    assert VectorStore.from_vectors(unit_vectors(100), 16, hnsw_threshold=100).kind == "hnsw"


def test_search_is_cosine_best_first():
    vectors = unit_vectors(50)
    store = VectorStore.from_vectors(vectors, 16)
    rows, scores = store.search(vectors[7], 5)
    assert rows[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(scores, vectors[rows] @ vectors[7], rtol=1e-5)
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("threshold", [10_000, 10])
def test_allowed_mask_is_applied_inside_the_search(threshold):
    vectors = unit_vectors(200)
    store = VectorStore.from_vectors(vectors, 16, hnsw_threshold=threshold)
    allowed = np.zeros(200, dtype=bool)
    allowed[::7] = True
    rows, _ = store.search(vectors[3], 10, allowed)       # row 3 itself is not allowed
    assert len(rows) == 10 and all(allowed[rows])
    expected = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ vectors[3]))][:10]
    assert set(rows) == set(expected)


@pytest.mark.parametrize("threshold", [10_000, 10])
def test_vectors_of_rows_come_back_from_either_index(threshold):
    vectors = unit_vectors(200)
    store = VectorStore.from_vectors(vectors, 16, hnsw_threshold=threshold)
    np.testing.assert_allclose(store.vectors([3, 150, 7]), vectors[[3, 150, 7]], rtol=1e-6)
    assert store.vectors([]).shape == (0, 16)


def test_adding_past_the_threshold_switches_to_hnsw_and_keeps_rows():
    vectors = unit_vectors(60)
    store = VectorStore.from_vectors(vectors[:40], 16, hnsw_threshold=50)
    assert store.kind == "flat"
    assert list(store.add(vectors[40:])) == list(range(40, 60))
    assert store.kind == "hnsw" and store.n_rows == 60
    assert store.search(vectors[55], 1)[0][0] == 55
    np.testing.assert_allclose(store.all_vectors(), vectors, atol=1e-6)


def test_hnsw_recall_against_exact():
    rng = np.random.default_rng(1)
    centres = unit_vectors(50, 32, seed=2)
    vectors = centres[rng.integers(0, 50, 5000)] + 0.3 * unit_vectors(5000, 32, seed=3)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = VectorStore.from_vectors(vectors, 32, hnsw_threshold=10**9)
    approx = VectorStore.from_vectors(vectors, 32, hnsw_threshold=0)
    queries = centres[rng.integers(0, 50, 50)] + 0.3 * unit_vectors(50, 32, seed=4)  # like the data
    found = [len(set(exact.search(q, 10)[0]) & set(approx.search(q, 10)[0])) for q in queries]
    assert sum(found) / (10 * len(queries)) >= 0.95


def test_save_and_load(tmp_path):
    vectors = unit_vectors(30)
    VectorStore.from_vectors(vectors, 16).save(tmp_path / "v.faiss")
    loaded = VectorStore.load(tmp_path / "v.faiss", 16)
    assert loaded.n_rows == 30 and loaded.search(vectors[4], 1)[0][0] == 4


def test_wrong_dimension_is_refused():
    store = VectorStore.from_vectors(unit_vectors(5), 16)
    with pytest.raises(ValueError, match="dimension 16"):
        store.add(unit_vectors(2, 8))
    with pytest.raises(ValueError, match="allowed mask"):
        store.search(unit_vectors(1)[0], 2, np.ones(3, dtype=bool))


def test_empty_store_search():
    rows, scores = VectorStore(16).search(unit_vectors(1)[0], 5)
    assert len(rows) == 0 and len(scores) == 0


def test_from_the_ivf_threshold_the_store_is_ivf_pq_with_exact_reranking():
    vectors = unit_vectors(3000)
    store = VectorStore.from_vectors(vectors[:2000], 16, hnsw_threshold=100, ivf_threshold=2500)
    assert store.kind == "hnsw"
    assert list(store.add(vectors[2000:])) == list(range(2000, 3000))   # crossing: one rebuild
    assert store.kind == "ivf-pq" and store.n_rows == 3000
    rows, scores = store.search(vectors[2999], 5)
    assert rows[0] == 2999 and scores[0] == pytest.approx(1.0, abs=1e-5)   # re-ranked: exact scores
    np.testing.assert_allclose(scores, vectors[rows] @ vectors[2999], rtol=1e-5)
    np.testing.assert_allclose(store.vectors([3, 2500]), vectors[[3, 2500]], atol=1e-6)


def test_ivf_pq_applies_the_allowed_mask_and_finds_the_exact_neighbours(tmp_path):
    vectors = unit_vectors(3000, seed=1)
    store = VectorStore.from_vectors(vectors, 16, ivf_threshold=1000, nprobe=1024)  # every list
    allowed = np.zeros(3000, dtype=bool)
    allowed[::3] = True
    store.save(tmp_path / "vectors.faiss")
    again = VectorStore.load(tmp_path / "vectors.faiss", 16)
    assert again.kind == "ivf-pq"
    again.nprobe = 1024
    for query in (5, 100, 2001):
        rows, _ = again.search(vectors[query], 10, allowed)
        expected = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ vectors[query]))][:10]
        assert all(allowed[rows]) and set(rows) == set(expected)

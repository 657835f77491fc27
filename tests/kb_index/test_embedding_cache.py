"""The query-embedding cache (kb_index.embedding.VectorCache): same question, one forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from kb_index.embedding import VectorCache, normalise


def counting_maker():
    calls: list[str] = []

    def make(text: str) -> np.ndarray:
        calls.append(text)
        return np.full(4, float(len(calls)), dtype=np.float32)

    return make, calls


@pytest.mark.parametrize("first, again", [
    ("How do I reset my password", "how do i reset my password"),
    ("where is my parcel", "  where  is my\tparcel "),
])
def test_the_same_question_differently_cased_or_spaced_is_made_once(first, again):
    cache = VectorCache()
    make, calls = counting_maker()
    assert np.array_equal(cache.get_or_make(first, make), cache.get_or_make(again, make))
    assert calls == [first]
    assert (cache.hits, cache.misses) == (1, 1)


def test_different_words_are_different_entries():
    cache = VectorCache()
    make, calls = counting_maker()
    cache.get_or_make("reset password", make)
    cache.get_or_make("reset passwords", make)
    assert calls == ["reset password", "reset passwords"]


def test_the_least_recently_used_entry_goes_first():
    cache = VectorCache(size=2)
    make, calls = counting_maker()
    for text in ("a", "b", "a", "c", "a", "b"):
        cache.get_or_make(text, make)
    assert calls == ["a", "b", "c", "b"]  # "b" was the oldest when "c" came; "a" stayed


def test_a_cached_vector_cannot_be_changed_by_a_caller():
    cache = VectorCache()
    make, _ = counting_maker()
    vector = cache.get_or_make("refund", make)
    with pytest.raises(ValueError):
        vector[0] = 9.0


def test_normalise_keeps_the_words():
    assert normalise("  Où est   MON colis? ") == "où est mon colis?"

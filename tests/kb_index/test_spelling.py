"""Query spelling correction against the KB vocabulary."""

from __future__ import annotations

import pytest

from kb_index.spelling import Speller, edit_distance

KB_TEXT = ["Reset your password", "Refund to your account", "Track your parcel delivery",
           "Reactivate an account", "password password"]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller.from_texts(KB_TEXT)


@pytest.mark.parametrize("query, expected", [
    ("forgot my pasword", "forgot my password"),            # letter missing
    ("forgot my passwrod", "forgot my password"),           # neighbours swapped
    ("where is my refnud", "where is my refund"),
    ("Track my PARCLE", "Track my parcel"),
    ("my acount", "my account"),
    ("reactivte my acount", "reactivate my account"),
])
def test_misspelt_words_are_corrected(speller, query, expected):
    assert speller.correct(query) == expected


@pytest.mark.parametrize("query", [
    "what is the capital of france",    # English words are left alone
    "pwd reset",                        # too short to correct
    "refund 2024-01-05 #123",
    "zxqvbnm",                          # nothing close
])
def test_other_words_are_kept(speller, query):
    assert speller.correct(query) == query


@pytest.mark.parametrize("a, b, distance", [
    ("password", "password", 0), ("pasword", "password", 1), ("passwrod", "password", 1),
    ("refnud", "refund", 1), ("kitten", "sitting", 3), ("", "abc", 3),
])
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance

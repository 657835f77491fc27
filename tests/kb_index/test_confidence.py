"""search.confidence and its word evidence: the formula, its bounds, and what the index
fills in (share of the query's words the first article has, share the KB has nowhere)."""

from __future__ import annotations

import pytest

from kb_index.bm25 import KeywordIndex, tokenize
from kb_index.search import RankedArticle, confidence, word_evidence


def test_confidence_starts_from_the_chosen_score():
    best = RankedArticle("a", 0, score=0.5, weighted=0.9, fused=0.5, keyword=8.0)
    assert confidence(best, "fused") == pytest.approx((0.5 + 0.3) / 1.45)
    assert confidence(best, "weighted") == pytest.approx((0.9 + 0.3) / 1.45)
    assert confidence(None) == 0.0


def test_confidence_rises_with_covered_words_and_falls_with_unknown_ones():
    plain = RankedArticle("a", 0, score=0.5, fused=0.5, keyword=4.0)
    covered = RankedArticle("a", 0, score=0.5, fused=0.5, keyword=4.0, coverage=1.0)
    foreign = RankedArticle("a", 0, score=0.5, fused=0.5, keyword=4.0, coverage=0.5, unknown=0.5)
    assert confidence(covered) == pytest.approx((0.5 + 0.15 + 0.15) / 1.45)
    assert confidence(foreign) == pytest.approx((0.5 + 0.15 + 0.075 - 0.075) / 1.45)
    assert confidence(covered) > confidence(foreign) > confidence(plain) - 1e-9


@pytest.mark.parametrize("fused, keyword, coverage, unknown, expected", [
    (1.0, 100.0, 1.0, 0.0, 1.0),       # everything at its best: exactly 1
    (0.0, 0.0, 0.0, 1.0, 0.0),         # below 0 is clipped
])
def test_confidence_stays_between_0_and_1(fused, keyword, coverage, unknown, expected):
    best = RankedArticle("a", 0, score=fused, fused=fused, keyword=keyword,
                         coverage=coverage, unknown=unknown)
    assert confidence(best) == pytest.approx(expected)


def test_word_evidence_weighs_rare_words_more():
    keyword = KeywordIndex(["reset your password", "password rules", "delivery times",
                            "password and delivery"])
    article = frozenset(tokenize("reset your password"))
    # "reset" is in one document, "password" in three: reset counts more
    coverage, unknown = word_evidence(tokenize("reset delivery"), article, keyword.idf, keyword.knows)
    assert unknown == 0.0
    assert 0.5 < coverage < 1.0
    coverage, unknown = word_evidence(tokenize("password delivery"), article, keyword.idf, keyword.knows)
    assert coverage < 0.5


def test_words_no_article_has_are_unknown():
    keyword = KeywordIndex(["reset your password", "delivery times"])
    article = frozenset(tokenize("reset your password"))
    coverage, unknown = word_evidence(tokenize("reset my netflix password"), article,
                                      keyword.idf, keyword.knows)
    assert 0 < unknown < 1 and coverage == pytest.approx(1 - unknown)
    assert word_evidence(tokenize("what is this"), article, keyword.idf, keyword.knows) == (0.0, 1.0)


def test_the_index_fills_in_the_first_articles_word_evidence(index):
    ranked = index.rank("how do I reset my password", k=3)
    assert ranked[0].article_id == "reset-password"
    assert ranked[0].coverage == pytest.approx(1.0) and ranked[0].unknown == 0.0
    stray = index.rank("reset my zorblax password", k=3)[0]
    assert 0 < stray.unknown < 1 and stray.coverage < 1
    assert index.search("how do I reset my password").confidence > \
        index.search("reset my zorblax password").confidence

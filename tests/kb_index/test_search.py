"""Index.search: hybrid ranking, one hit per article, audience filter, query errors."""

from __future__ import annotations

import numpy as np
import pytest

from kb_index import Hit, QueryError, SearchResult, open_index
from kb_index.search import fuse


def test_search_returns_hits_best_first(index):
    result = index.search("how do I reset my password", k=3)
    assert isinstance(result, SearchResult) and isinstance(result.hits[0], Hit)
    top = result.hits[0]
    assert (top.article_id, top.title, top.url, top.audience) == (
        "reset-password", "Reset your password", "/help/reset-password", "public")
    rest = [h.score for h in result.hits[1:]]     # the first is the arbiter's (search.py)
    assert rest == sorted(rest, reverse=True)
    assert 0 < top.score <= 1
    assert len(result.hits) == 3


def test_one_hit_per_article_with_its_best_chunk(index):
    hits = index.search("password reset link email spam", k=5).hits
    assert len({h.article_id for h in hits}) == len(hits)
    reset = next(h for h in hits if h.article_id == "reset-password")
    assert "spam" in reset.snippet                              # the matching section


@pytest.mark.parametrize("method", ["hybrid", "dense", "bm25"])
def test_every_method_finds_the_refund_article(index, method):
    assert index.search("when do I get my refund", method=method).hits[0].article_id == "refund-timing"


def test_public_search_never_sees_internal_articles(index):
    for k in (1, 5, 10):
        hits = index.search("unlock account in the admin tool", k=k, audience="public").hits
        assert all(h.audience == "public" for h in hits)
        assert "manual-unlock-admin" not in {h.article_id for h in hits}


def test_internal_search_sees_both(index):
    hits = index.search("unlock account in the admin tool", k=5, audience="internal").hits
    assert hits[0].article_id == "manual-unlock-admin" and hits[0].audience == "internal"
    assert any(h.audience == "public" for h in hits)


def test_answerable_follows_the_threshold(kb_dir, index_dir, embedder, index):
    # the fused confidence of this tiny KB's hits sits lower (its BM25 scores are below
    # the floor); the rule is the same at any threshold
    lenient = open_index(index_dir, embedder=embedder, answer_threshold=0.2)
    assert lenient.search("reset my password").answerable
    assert not lenient.search("zebra quantum marmalade").answerable
    strict = open_index(index_dir, embedder=embedder, answer_threshold=1.01)
    result = strict.search("reset my password")
    assert result.hits and not result.answerable


def test_the_confidence_score_is_a_setting(monkeypatch, index_dir, embedder, index):
    from kb_index import KBError

    fused = index.search("reset my password")
    assert index.confidence_score == "fused"
    monkeypatch.setenv("CARE_KB_CONFIDENCE_SCORE", "weighted")
    weighted = open_index(index_dir, embedder=embedder)
    assert weighted.confidence_score == "weighted"
    again = weighted.search("reset my password")
    assert again.hits[0].article_id == fused.hits[0].article_id   # ranking is unchanged
    assert again.confidence != pytest.approx(fused.confidence)
    with pytest.raises(KBError, match="confidence_score must be one of"):
        open_index(index_dir, embedder=embedder, confidence_score="cosine")


def test_threshold_from_environment(monkeypatch, index_dir, embedder, index):
    monkeypatch.setenv("CARE_KB_ANSWER_THRESHOLD", "0.99")
    assert open_index(index_dir, embedder=embedder).answer_threshold == 0.99


@pytest.mark.parametrize("query, kwargs, message", [
    ("", {}, "query is empty"),
    ("   \n", {}, "query is empty"),
    (None, {}, "query is empty"),
    ("x" * 1001, {}, "the maximum is 1000"),
    ("refund", {"k": 0}, "k must be an integer"),
    ("refund", {"k": 101}, "k must be an integer"),
    ("refund", {"audience": "everyone"}, "audience must be one of"),
    ("refund", {"method": "magic"}, "method must be one of"),
])
def test_bad_queries_raise_query_error(index, query, kwargs, message):
    with pytest.raises(QueryError, match=message):
        index.search(query, **kwargs)


def test_longest_query_allowed(index):
    assert index.search("refund " * 142 + "x").hits            # 1000 characters


def test_get_article(index):
    article = index.get_article("refund-timing")
    assert article.title == "When will I get my refund?" and article.area == "billing"
    assert article.body.startswith("# When will I get my refund?")
    assert index.get_article("nope") is None


def test_snippet_is_plain_text(index):
    snippet = index.search("steps to reset password").hits[0].snippet
    assert "#" not in snippet and "\n" not in snippet and len(snippet) <= 241


@pytest.mark.parametrize("markdown, plain", [
    ("## Steps\n1. Select **Sign in**.\n2. Choose `Forgot`.", "Steps Select Sign in. Choose Forgot."),
    ("- one [link](https://x.example)\n- two", "one link two"),
    ("| a | b |\n> quoted", "a b quoted"),
    ("keep well-known words and snake_case", "keep well-known words and snake_case"),
])
def test_snippet_strips_markdown(markdown, plain):
    from kb_index.search import snippet

    assert snippet(markdown) == plain


def test_snippet_is_cut_at_a_word():
    from kb_index.search import snippet

    cut = snippet("word " * 100, limit=50)
    assert cut.endswith("…") and len(cut) <= 51 and not cut[:-1].endswith(" ")


def _arrays(pairs):
    return np.array([r for r, _ in pairs], np.int64), np.array([s for _, s in pairs], np.float32)


def _lists(dense, keyword):
    """(rows, scores) arrays for fuse(), best first."""
    return _arrays(dense), _arrays(keyword)


def test_the_fusion_never_answers_with_an_article_neither_retriever_put_first():
    from kb_index.search import SHORTLIST

    # dense: a, d first; BM25: b, e first; c is third in both and wins the weighted sum
    assert SHORTLIST == 2
    dense, keyword = _lists([(0, 0.80), (3, 0.795), (2, 0.79), (1, 0.40)],
                            [(1, 14.0), (4, 13.95), (2, 13.9), (0, 1.0)])
    row_article = ["a", "b", "c", "d", "e"]
    ranked = [r.article_id for r in fuse(dense, keyword, row_article, "hybrid", "weighted")]
    assert ranked[0] == "a" and set(ranked) == {"a", "b", "c", "d", "e"}
    assert ranked.index("c") == 1                     # the rest stay in fused order
    # second in one list is close enough: c, second in both, is the answer
    dense, keyword = _lists([(0, 0.80), (2, 0.79), (1, 0.40)], [(1, 14.0), (2, 13.9), (0, 1.0)])
    assert fuse(dense, keyword, ["a", "b", "c"], "hybrid", "weighted")[0].article_id == "c"


def test_an_article_two_of_its_chunks_match_beats_one_matched_once():
    # a's best chunk is a little better than b's, but b has a second chunk that matches too
    row_article = ["a", "b", "b"]
    dense, keyword = _lists([(0, 0.72), (1, 0.70), (2, 0.66)], [(0, 1.0), (1, 1.0), (2, 1.0)])
    weighted = fuse(dense, keyword, row_article, "hybrid", "weighted")
    assert [r.article_id for r in weighted] == ["b", "a"]
    assert weighted[0].row == 1                       # its best chunk is still the one shown
    assert all(0.0 <= r.score <= 1.0 for r in weighted)
    # the single retrievers keep their own order: the best chunk decides
    assert fuse(dense, keyword, row_article, "dense")[0].article_id == "a"


def test_weak_keyword_evidence_counts_less_than_a_strong_match():
    # the same BM25 ranking, once with scores below the floor and once above it
    row_article = ["a", "b"]
    dense_first_a = [(0, 0.70), (1, 0.62)]
    weak = fuse(*_lists(dense_first_a, [(1, 3.0), (0, 1.0)]), row_article, "hybrid", "weighted")
    strong = fuse(*_lists(dense_first_a, [(1, 30.0), (0, 10.0)]), row_article, "hybrid", "weighted")
    assert weak[0].article_id == "a"                  # a one-word BM25 match does not overrule dense
    assert strong[0].article_id == "b"                # a strong keyword match still does


class _Articles:
    """search.ArticleEvidence from tables: chunk counts (default 2) and article cosines."""

    def __init__(self, cosines=None, chunks=None):
        self._cosines, self._chunks = cosines or {}, chunks or {}

    def chunks(self, article_id):
        return self._chunks.get(article_id, 2)

    def cosine(self, article_id):
        return self._cosines.get(article_id, 0.0)


def test_the_article_vector_breaks_a_near_tie_and_leaves_the_fused_score_alone():
    # a and b are the retrievers' first articles, a a little ahead on its best chunk; the
    # query is nearer to b as a whole (the mean of its chunks)
    row_article = ["a", "b"]
    dense, keyword = _lists([(0, 0.71), (1, 0.70)], [(0, 5.0), (1, 4.9)])
    plain = fuse(dense, keyword, row_article, "hybrid", "weighted", articles=_Articles())
    near_b = _Articles({"a": 0.30, "b": 0.60})
    ranked = fuse(dense, keyword, row_article, "hybrid", "weighted", articles=near_b)
    assert [r.article_id for r in plain] == ["a", "b"]
    assert [r.article_id for r in ranked] == ["b", "a"]
    assert [r.fused for r in ranked] == [r.fused for r in reversed(plain)]  # the confidence's score
    # a clear lead on the chunks is not overruled, and single retrievers ignore it
    dense, keyword = _lists([(0, 0.85), (1, 0.60)], [(0, 9.0), (1, 3.0)])
    assert fuse(dense, keyword, row_article, "hybrid", "weighted", articles=near_b)[0].article_id == "a"
    assert fuse(dense, keyword, row_article, "dense", articles=near_b)[0].article_id == "a"


def test_the_article_vector_cannot_promote_an_article_neither_retriever_put_first():
    dense, keyword = _lists([(0, 0.80), (3, 0.795), (2, 0.79)], [(1, 14.0), (4, 13.95), (2, 13.9)])
    row_article = ["a", "b", "c", "d", "e"]
    ranked = fuse(dense, keyword, row_article, "hybrid", "weighted", articles=_Articles({"c": 1.0}))
    assert ranked[0].article_id != "c" and ranked[1].article_id == "c"


def test_an_article_of_one_chunk_is_not_penalised_for_having_no_second():
    # a short FAQ answer (one chunk) against a long one whose two windows both match a little less
    row_article = ["short", "long", "long"]
    dense, keyword = _lists([(0, 0.75), (1, 0.70), (2, 0.69)], [(0, 6.0), (1, 6.0), (2, 5.0)])
    counted = fuse(dense, keyword, row_article, "hybrid", "weighted",
                   articles=_Articles(chunks={"short": 1, "long": 2}))
    assert [r.article_id for r in counted] == ["short", "long"]
    assert counted[0].fused == pytest.approx(0.7 * 0.75 + 0.3 * 6.0 / 12.0)   # its one chunk
    # the same lists, every article taken to have a second chunk: the long answer wins
    assert fuse(dense, keyword, row_article, "hybrid", "weighted")[0].article_id == "long"


def _unit(vector):
    return vector / np.linalg.norm(vector)


def test_an_articles_vector_is_the_mean_of_its_chunks_and_follows_changes(index):
    from kb_index.index import _ArticleEvidence

    vector = index.embedder.encode(["my refund has not arrived"])[0]
    _, vectors, _ = index.chunks_of({"refund-timing"})
    with index._lock:
        evidence = _ArticleEvidence(index, vector, None)
        assert evidence.chunks("refund-timing") == len(vectors) > 1
        assert evidence.cosine("refund-timing") == pytest.approx(float(_unit(vectors.mean(axis=0)) @ vector),
                                                                 abs=1e-5)
        # the self-search leaves rows out: then only the rows allowed count
        allowed = np.ones(len(index._row_article), dtype=bool)
        allowed[index._article_rows["refund-timing"][0]] = False
        left_out = _ArticleEvidence(index, vector, allowed)
        assert left_out.chunks("refund-timing") == len(vectors) - 1
        assert left_out.cosine("refund-timing") == pytest.approx(float(_unit(vectors[1:].mean(axis=0)) @ vector),
                                                                 abs=1e-5)
    changed = index.get_article("refund-timing")
    index.upsert_article(type(changed)(id=changed.id, title="Gift wrapping", body="# Gift wrapping\n\nWe wrap "
                                       "presents in recycled paper for a small fee.", audience="public"))
    _, vectors, _ = index.chunks_of({"refund-timing"})
    with index._lock:
        assert _ArticleEvidence(index, vector, None).cosine("refund-timing") == pytest.approx(
            float(_unit(vectors.mean(axis=0)) @ vector), abs=1e-5)

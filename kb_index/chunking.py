"""Split an article into chunks by its Markdown headings.

Each ``#``-``######`` heading starts a section.  A section longer than ``chunk_chars``
is cut into windows at paragraph, line or sentence boundaries; consecutive windows of
one section share about ``overlap`` characters, so a sentence cut at a boundary is
still whole in one of them.  Headings inside fenced code blocks are not headings.

The text that gets embedded is ``title / section heading`` followed by the section
text, so a chunk from the middle of an article still says what it is about.

Each of the article's ``questions`` (how customers ask for it, from the front matter)
becomes one more chunk of its own (``kind="question"``), embedded as the bare question:
a customer's question is closer to another question than to the answer's prose.  Such a
chunk can make its article rank first, but it is never shown as the snippet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .articles import Article
from .errors import ArticleError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
TAGS_IN_TEXT = True
MIN_SECTION_CHARS = 40  # shorter sections are merged into the next one
_BREAKS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True)
class Chunk:
    article_id: str
    position: int          # 0-based order of the chunk within its article
    heading: str           # the section heading ("" for text before the first heading);
                           # of a question: the section that answers it, if it names one
    text: str              # the section text of this chunk (Markdown), or the question
    kind: str = "section"  # "section" (article text) or "question" (front matter)

    def embed_text(self, article: Article) -> str:
        """Text given to the embedding model and to BM25."""
        if self.kind == "question":
            return self.text
        title = article.title
        head = title if not self.heading or self.heading == title else f"{title} / {self.heading}"
        if TAGS_IN_TEXT and article.tags:
            head += f" ({', '.join(article.tags)})"
        return f"{head}\n{self.text}".strip()

    def section_text(self, article: Article) -> str | None:
        """Text of the chunk's *section vector*: its heading and text, without the article's
        title and tags that :meth:`embed_text` starts with (the section choice compares
        sections of one article, which all share those); None for a question."""
        if self.kind == "question":
            return None
        return f"{self.heading or article.title}\n{self.text}"


def split_sections(body: str) -> list[tuple[str, str]]:
    """``[(heading, text), ...]`` in order; the top ``# title`` heading keeps its text."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            sections.append((match.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(lines).strip()) for h, lines in sections if h or "\n".join(lines).strip()]


def window(text: str, size: int, overlap: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``size`` chars, overlapping by ~``overlap``."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    overlap = max(0, min(overlap, size // 2))
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            end = _best_break(text, start + size // 2, end)
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        if end >= len(text):
            break
        next_start = _first_break(text, max(end - overlap, start + 1), end) if overlap else end
        start = next_start if next_start > start else end
    return pieces


def _best_break(text: str, lo: int, hi: int) -> int:
    """Last boundary in ``text[lo:hi]``, preferring paragraph over line over sentence."""
    for sep in _BREAKS:
        pos = text.rfind(sep, lo, hi)
        if pos != -1:
            return pos + len(sep)
    return hi


def _first_break(text: str, lo: int, hi: int) -> int:
    """First boundary in ``text[lo:hi]`` (sentence or line first, then a space)."""
    for group in (_BREAKS[:5], _BREAKS[5:]):
        found = [p + len(sep) for sep in group if (p := text.find(sep, lo, hi)) != -1]
        found = [p for p in found if p < hi]
        if found:
            return min(found)
    return lo


def anchor(heading: str) -> str:
    """GitHub-style slug of a heading: lower case, punctuation dropped, spaces to hyphens
    ("How to reactivate your account" -> ``how-to-reactivate-your-account``)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"\s", "-", text)


def merged_sections(article: Article) -> list[tuple[str, str]]:
    """``[(heading, markdown)]``: the article's sections, a short one (a heading with a
    line or two) merged into the next, so no chunk is a bare heading.  The text before
    the first ``##`` heading has the heading "" (``embed_text`` adds the title)."""
    return merge_sections(article.title, article.body)


def merge_sections(title: str, body: str) -> list[tuple[str, str]]:
    """:func:`merged_sections` of the article with this ``title`` and ``body``."""
    merged: list[tuple[str, str]] = []
    pending = ""
    for heading, text in split_sections(body):
        if heading == title:
            heading = ""                  # the "# title" line: embed_text adds the title
        if pending:
            text, pending = f"{pending}\n\n{text}".strip(), ""
        if len(text) < MIN_SECTION_CHARS:
            pending = "\n".join(p for p in (heading, text) if p)
            continue
        merged.append((heading, text))
    if pending or not merged:
        merged.append(("", pending))
    return merged


def chunk_article(article: Article, chunk_chars: int = 900, chunk_overlap: int = 150) -> list[Chunk]:
    """The chunks of one article: its sections, cut into windows, then its questions.
    A question that names the section answering it (front matter ``"question": anchor``)
    carries that section's heading; :class:`ArticleError` when no section has the anchor."""
    merged = merged_sections(article)
    chunks: list[Chunk] = []
    for heading, text in merged:
        for piece in window(text, chunk_chars, chunk_overlap) or [""]:
            chunks.append(Chunk(article.id, len(chunks), heading, piece))
    headings = {anchor(heading or article.title): heading for heading, _ in merged}
    for question, name in zip(article.questions, article.question_sections or [""] * len(article.questions)):
        if name and name not in headings:
            raise ArticleError(article.source or f"<article {article.id!r}>", "questions",
                               f"{question!r} names section #{name}, which the article does not "
                               f"have (its sections: {', '.join(headings)})")
        heading = (headings[name] or article.title) if name else ""   # the title: the introduction
        chunks.append(Chunk(article.id, len(chunks), heading, question, kind="question"))
    return chunks

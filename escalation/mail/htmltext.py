"""HTML mail bodies as plain text, without running or keeping any markup.

The result is plain text: everything that shows it escapes it again, so a ``<script>`` in a
customer's HTML mail is at worst visible text, never markup.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"})
BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "blockquote", "pre", "table",
                   "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "form", "address"})
VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "area", "base", "col", "embed",
                  "source", "track", "param"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            if tag not in VOID:
                self._skipping.append(tag)
            return
        if tag in SKIP:
            self._skipping.append(tag)
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in BLOCK:
            self.parts.append("\n\n")
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag in BLOCK:
            self.parts.append("\n\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and href.startswith(("http://", "https://", "mailto:")) and href not in self.parts[-1:]:
                self.parts.append(f" <{href.removeprefix('mailto:')}>")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of ``html``: paragraphs and line breaks kept, scripts and styles dropped."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

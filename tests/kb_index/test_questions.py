"""Customer questions in the front matter: parsed, indexed as chunks of their own,
able to rank their article, never shown as the snippet."""

from __future__ import annotations

from kb_index import Article, FakeEmbedder, build, open_index
from kb_index.articles import parse_article
from kb_index.chunking import chunk_article

ARTICLE = """---
id: click-and-collect
title: Click and Collect
audience: public
questions:
  - "I'd rather pick it up at the shop on my way home"
  - "  can I grab it from a store  "
---
# Click and Collect

Choose a store at checkout. We text you when the order is ready; bring the code.
"""


def test_questions_are_parsed_stripped_and_hashed():
    article = parse_article(ARTICLE, "cc.md")
    assert article.questions == ("I'd rather pick it up at the shop on my way home",
                                 "can I grab it from a store")
    without = parse_article(ARTICLE.split("questions:")[0] + ARTICLE.split('store  "\n')[1], "cc.md")
    assert without.questions == ()
    assert article.content_hash() != without.content_hash()
    assert Article.from_dict(article.to_dict()) == article


def test_each_question_is_a_chunk_embedded_bare():
    article = parse_article(ARTICLE, "cc.md")
    chunks = chunk_article(article)
    questions = [c for c in chunks if c.kind == "question"]
    assert [c.text for c in questions] == list(article.questions)
    assert all(c.embed_text(article) == c.text for c in questions)
    sections = [c for c in chunks if c.kind == "section"]
    assert sections and all("Choose a store" in c.embed_text(article) for c in sections)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_a_question_ranks_its_article_but_the_snippet_is_article_text(tmp_path):
    source = tmp_path / "kb"
    source.mkdir()
    (source / "cc.md").write_text(ARTICLE, encoding="utf-8")
    (source / "other.md").write_text(
        "---\nid: delivery-times\ntitle: Delivery times\naudience: public\n---\n"
        "# Delivery times\n\nStandard delivery takes 3 to 5 working days to your home.\n",
        encoding="utf-8")
    embedder = FakeEmbedder()
    build(source, tmp_path / "index", embedder=embedder, show_progress=False)
    index = open_index(tmp_path / "index", embedder=embedder)
    hit = index.search("pick it up at the shop on my way home", k=2, method="bm25").hits[0]
    assert hit.article_id == "click-and-collect"
    assert "Choose a store" in hit.snippet and "on my way home" not in hit.snippet

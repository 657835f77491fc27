"""Chunking by headings, with overlap inside long sections."""

from __future__ import annotations

from kb_index import Article
from kb_index.chunking import chunk_article, split_sections, window


def article(body: str) -> Article:
    return Article(id="a", title="Reset your password", body=body)


def test_one_chunk_per_section_and_title_section_merged():
    body = ("# Reset your password\n\nShort intro.\n\n## Steps\n"
            "Open the sign-in page and choose Forgot your password.\n\n"
            "## The email does not arrive\nLook in the spam folder, then ask for a new link.\n")
    chunks = chunk_article(article(body))
    assert [c.heading for c in chunks] == ["Steps", "The email does not arrive"]
    assert chunks[0].text.startswith("Short intro.")          # tiny intro joins the next section
    assert [c.position for c in chunks] == [0, 1]


def test_embed_text_says_what_the_chunk_is_about():
    source = Article(id="a", title="Reset your password", tags=("login", "account"),
                     body="## Steps\nOpen the sign-in page and choose Forgot password.\n")
    chunk = chunk_article(source)[0]
    assert chunk.embed_text(source) == ("Reset your password / Steps (login, account)\n"
                                        "Open the sign-in page and choose Forgot password.")


def test_heading_inside_code_fence_is_not_a_heading():
    body = "## Example\nRun this:\n```\n# not a heading\n```\nand you are done with it all.\n"
    assert [h for h, _ in split_sections(body)] == ["Example"]


def test_long_section_is_split_with_overlap():
    sentences = [f"Sentence number {i} explains one more step of the process." for i in range(60)]
    chunks = chunk_article(article("## Steps\n" + " ".join(sentences)), chunk_chars=400,
                           chunk_overlap=100)
    assert len(chunks) > 5
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.heading == "Steps" for c in chunks)
    for first, second in zip(chunks, chunks[1:]):
        last_sentence = first.text.rsplit(". ", 1)[-1]
        assert last_sentence in second.text                     # consecutive chunks overlap
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)                  # nothing is lost


def test_window_without_overlap_partitions_text():
    text = "word " * 300
    pieces = window(text, 200, 0)
    assert "".join(p + " " for p in pieces).split() == text.split()


def test_article_with_only_a_short_body_still_has_a_chunk():
    chunks = chunk_article(article("# Reset your password\nSee Steps.\n"))
    assert len(chunks) == 1 and chunks[0].text == "See Steps."

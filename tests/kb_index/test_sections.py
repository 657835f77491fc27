"""The answering section of a hit: which one, shown whole with its steps, anchors, and
follow-up questions searched with the question before them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb_index import FakeEmbedder, build, open_index
from kb_index.articles import parse_article
from kb_index.chunking import chunk_article
from kb_index.errors import ArticleError
from kb_index.sections import (NO_WORDS, Evidence, Weights, anchor, article_sections, asks_how, best_section,
                               fit, heading_match, make_section, plain, question_support, words)

REACTIVATE = """---
id: reactivate-inactive-account
title: Reactivate an account that has been inactive
url: /help/reactivate-inactive-account
audience: public
---
# Reactivate an account that has been inactive

We deactivate accounts with no sign-in for 24 months. Your order history is kept.

## How to reactivate your account

1. Go to the sign-in page and choose **Reactivate a dormant account**.
2. Enter the email address you used when you opened the account.
3. Open the [reactivation link](/help/link) we send and choose a new password.

## If you no longer have access to the old email address

Contact support with the old email address and an old order number; an agent moves the
account to your new address.

## Accounts inactive for more than five years

Accounts dormant for more than five years are archived and cannot be reactivated online.
"""


@pytest.fixture
def article():
    return parse_article(REACTIVATE, "reactivate.md")


def test_sections_follow_the_headings_and_the_intro_belongs_to_the_title(article):
    sections = article_sections(article)
    assert [h for h, _ in sections] == [
        "Reactivate an account that has been inactive", "How to reactivate your account",
        "If you no longer have access to the old email address",
        "Accounts inactive for more than five years"]
    assert sections[3][1].startswith("Accounts dormant")


def test_a_short_section_is_merged_into_the_next_as_the_chunker_does():
    short = parse_article("---\nid: a\ntitle: A\naudience: public\n---\n# A\n\n## Note\n\nTiny.\n\n"
                          "## Real section\n\nThis section is long enough to stand on its own two feet.\n",
                          "a.md")
    assert [h for h, _ in article_sections(short)] == ["Real section"]
    assert article_sections(short)[0][1].startswith("Note\nTiny.")


def test_an_article_changed_in_place_gets_its_new_sections(article):
    """The parse is kept between turns, keyed by the text: an upserted article with the
    same id and title but another body is parsed again, not served from before."""
    article_sections(article)
    changed = replace(article, body=article.body.replace("## Accounts inactive for more than five years",
                                                         "## Archived accounts"))
    assert article_sections(changed)[3][0] == "Archived accounts"
    assert article_sections(article)[3][0] == "Accounts inactive for more than five years"
    sections = article_sections(changed)
    sections.clear()                           # a caller's list is its own
    assert len(article_sections(changed)) == 4


@pytest.mark.parametrize("heading, slug", [
    ("How to reactivate your account", "how-to-reactivate-your-account"),
    ("Still locked out?", "still-locked-out"),
    ("\"An account with this email already exists\"", "an-account-with-this-email-already-exists"),
    ("Click & Collect from a Northwind store", "click--collect-from-a-northwind-store"),
    ("Apple's \"Hide My Email\"", "apples-hide-my-email"),
])
def test_anchor_is_the_github_slug(heading, slug):
    assert anchor(heading) == slug


def test_plain_text_keeps_numbered_steps_one_a_line(article):
    text = plain(article_sections(article)[1][1])
    assert text.splitlines() == [
        "1. Go to the sign-in page and choose Reactivate a dormant account.",
        "2. Enter the email address you used when you opened the account.",
        "3. Open the reactivation link we send and choose a new password."]


def test_a_second_list_after_a_paragraph_is_numbered_from_one():
    assert plain("1. a\n2. b\n\nThen:\n\n1. c\n1. d") == "1. a\n2. b\nThen:\n1. c\n2. d"


def test_plain_text_joins_paragraph_lines_and_bullets():
    assert plain("One line\nwrapped.\n\n- a **bold** item\n- `code`") == "One line wrapped.\n- a bold item\n- code"


def test_a_long_section_is_cut_after_a_whole_line_and_marked_incomplete():
    text = "\n".join(f"{n}. Step number {n} says something useful here." for n in range(1, 40))
    cut, complete = fit(text, 200)
    assert not complete and cut.endswith("…") and len(cut) <= 202
    assert all(line.startswith(tuple("0123456789")) for line in cut.splitlines())
    assert fit("short", 200) == ("short", True)
    section = make_section("Steps", text, 200)
    assert section.anchor == "steps" and not section.complete


def test_asks_how():
    assert asks_how("My account has been inactive for two years, can you reactivate it?")
    assert asks_how("my account was inactive for 3 years how do I reactivate")
    assert asks_how("cancel plus")                # a bare topic
    assert not asks_how("Why did you cancel my order without telling me?")


def _evidence(how: bool, support=(0.0, 0.0, 0.0), intro: str = "intro") -> Evidence:
    return Evidence(["intro", "how", "five"], np.array([0.80, 0.66, 0.77], np.float32),
                    np.array([2.0, 2.0, 2.0], np.float32), np.array([0.0, 1.0, 0.0], np.float32),
                    np.array(support, np.float32), how, intro)


def test_steps_win_a_near_tie_when_the_question_asks_how():
    assert _evidence(how=True).choose() == "how"
    assert _evidence(how=False).choose() == "five"


def test_the_intro_is_shown_only_when_a_question_names_it_or_there_is_nothing_else():
    assert _evidence(how=False).choose() == "five"                      # intro scores best, skipped
    assert _evidence(how=False, support=(0.9, 0.0, 0.0)).choose() == "intro"
    assert _evidence(how=False, intro="").choose() == "intro"           # an article without intro


def test_a_front_matter_question_that_names_a_section_pulls_the_choice_there():
    support = question_support(np.array([0.9, 0.3], np.float32), ["five", "how"], ["intro", "how", "five"])
    assert support.tolist() == pytest.approx([0.0, 0.3, 0.9])
    assert _evidence(how=True, support=support).choose() == "five"
    assert _evidence(how=True, support=support).choose(Weights(question=0.0)) == "how"


TAGGED = REACTIVATE.replace("audience: public\n", """audience: public
questions:
  - "dormant account"
  - "my old mailbox is gone": if-you-no-longer-have-access-to-the-old-email-address
  - "is my account deleted": reactivate-an-account-that-has-been-inactive
""")


def test_questions_name_their_section_by_anchor():
    article = parse_article(TAGGED, "reactivate.md")
    assert article.questions == ("dormant account", "my old mailbox is gone", "is my account deleted")
    assert article.question_sections == (
        "", "if-you-no-longer-have-access-to-the-old-email-address", "reactivate-an-account-that-has-been-inactive")
    questions = [c for c in chunk_article(article) if c.kind == "question"]
    assert [c.heading for c in questions] == [
        "", "If you no longer have access to the old email address",
        "Reactivate an account that has been inactive"]      # the title: the introduction
    assert all(c.embed_text(article) == c.text for c in questions)   # embedded bare, as before
    untagged = parse_article(REACTIVATE, "reactivate.md")
    assert untagged.question_sections == () and "question_sections" not in json.dumps(
        {k: v for k, v in untagged.to_dict().items() if v})
    assert type(article).from_dict(article.to_dict()) == article


def test_a_question_naming_a_section_the_article_lacks_is_an_error():
    article = parse_article(TAGGED.replace(": if-you-no-longer", ": if-you-no-more"), "reactivate.md")
    with pytest.raises(ArticleError, match="if-you-no-more-have-access"):
        chunk_article(article)
    with pytest.raises(ArticleError, match="question with its section"):
        parse_article(TAGGED.replace('"dormant account"', '"dormant account": [a, b]'), "r.md")


def test_the_section_a_question_names_is_shown_for_a_query_that_matches_it(tmp_path):
    source = tmp_path / "kb"
    source.mkdir()
    (source / "r.md").write_text(TAGGED.replace('"my old mailbox is gone"', '"closed the mailbox I signed up with"'),
                                 encoding="utf-8")
    embedder = FakeEmbedder()
    build(source, tmp_path / "index", embedder=embedder, show_progress=False)
    index = open_index(tmp_path / "index", embedder=embedder)
    hit = index.search("closed the mailbox I signed up with", k=1).hits[0]
    assert hit.section.anchor == "if-you-no-longer-have-access-to-the-old-email-address"


def test_the_intro_is_shown_only_when_there_is_nothing_else():
    scores = np.array([0.9, 0.5], dtype=np.float32)
    assert best_section(scores, ["Title", "Details"], "Title") == "Details"
    assert best_section(scores[:1], ["Title"], "Title") == "Title"


@pytest.fixture
def index(tmp_path: Path):
    source = tmp_path / "kb"
    source.mkdir()
    (source / "reactivate.md").write_text(REACTIVATE, encoding="utf-8")
    (source / "delivery.md").write_text(
        "---\nid: delivery-times\ntitle: Delivery times\naudience: public\n---\n# Delivery times\n\n"
        "Standard delivery takes 3 to 5 working days to your home address.\n", encoding="utf-8")
    embedder = FakeEmbedder()
    build(source, tmp_path / "index", embedder=embedder, show_progress=False)
    return open_index(tmp_path / "index", embedder=embedder)


def test_every_hit_carries_its_answering_section_whole(index):
    hit = index.search("how do I reactivate my account", k=2).hits[0]
    assert hit.article_id == "reactivate-inactive-account"
    assert hit.section.heading == "How to reactivate your account"
    assert hit.section.anchor == "how-to-reactivate-your-account"
    assert hit.section.complete and hit.section.text.startswith("1. Go to the sign-in page")
    assert index.search("delivery working days", k=1).hits[0].section.heading == "Delivery times"


def test_a_follow_up_is_ranked_with_its_context_and_lands_on_another_section(index):
    first = "my account was inactive for 3 years how do I reactivate"
    alone = index.search("what about after five years?", k=2)
    follow = index.search("what about after five years?", k=2, context=first)
    assert follow.hits[0].article_id == "reactivate-inactive-account"
    assert follow.hits[0].section.heading == "Accounts inactive for more than five years"
    assert follow.confidence > alone.confidence
    assert index.search(first, k=1).hits[0].section.heading == "How to reactivate your account"


def test_context_is_validated_like_the_query(index):
    from kb_index import QueryError

    with pytest.raises(QueryError):
        index.search("and then?", context="x" * 1001)
    assert index.search("reactivate", context="   ").hits   # blank context: ignored


def test_an_article_without_headings_and_a_keyword_only_search_still_get_a_section(index):
    from kb_index import Article

    index.upsert_article(Article(id="fix-label-printer", title="Fix the label printer", audience="public",
                                 body="Turn the printer off and on, then print a test label."))
    hit = index.search("label printer test label", k=1).hits[0]
    assert hit.article_id == "fix-label-printer"
    assert (hit.section.heading, hit.section.anchor) == ("Fix the label printer", "fix-the-label-printer")
    assert hit.section.text == "Turn the printer off and on, then print a test label."
    keyword_only = index.search("reactivation link new password", k=1, method="bm25").hits[0]
    assert keyword_only.section.heading == "How to reactivate your account"


def test_words_keep_what_separates_two_sections_of_one_topic():
    assert words("How do I turn ON two-factor?").words == {"turn", "on", "two", "factor"}
    assert words("Still crashing after reinstalling").words == {"still", "crash", "after", "reinstall"}
    assert words("back to monthly from annual").pairs == {("back", "to"), ("to", "month"),   # stemmed
                                                          ("month", "from"), ("from", "annual")}


def test_heading_match_is_the_word_overlap_of_question_and_heading():
    match, pairs = heading_match(words("how do I turn on 2FA with an authenticator"),
                                 ["Turn on 2FA", "Turn off 2FA", "Turn on 2FA", "Set up"])
    assert match[0] > match[1] > match[3] == 0.0
    assert match[2] == match[0]
    assert match[0] == pytest.approx(3 / 4)   # turn, on, 2fa of turn, on, 2fa, authenticator
    assert pairs.tolist() == [1.0, 0.0, 1.0, 0.0]    # "turn on", "on 2fa" both in the question
    assert [m.tolist() for m in heading_match(NO_WORDS, ["Set up"])] == [[0.0], [0.0]]


def test_word_pairs_tell_a_direction_the_words_alone_do_not():
    headings = ["Switch from monthly to annual", "Switch from annual to monthly"]
    match, pairs = heading_match(words("can i go back to monthly from annual"), headings)
    assert match[0] == match[1]
    assert pairs[1] > pairs[0]


def test_the_heading_separates_sections_the_embedding_does_not():
    def evidence(match):
        return Evidence(["Turn on 2FA", "Turn off 2FA"], np.array([0.50, 0.52], np.float32),
                        np.array([2.0, 2.0], np.float32), np.array([1.0, 1.0], np.float32),
                        np.zeros(2, np.float32), True, "", *match)
    match = heading_match(words("how do I turn on two-step verification"), ["Turn on 2FA", "Turn off 2FA"])
    assert evidence(match).choose() == "Turn on 2FA"
    assert evidence(match).choose(Weights(heading=0.0, pairs=0.0)) == "Turn off 2FA"
    assert evidence((None, None)).choose() == "Turn off 2FA"          # not measured: as before

"""Loading and validating article files: every error names the file and the field."""

from __future__ import annotations

import pytest

from kb_index import Article, ArticleError, load_article, load_articles

GOOD = """---
id: reset-password
title: Reset your password
tags: [account, password]
audience: public
area: account-access
---
# Reset your password

Choose Forgot your password on the sign-in page.
"""


def write(tmp_path, text, name="a.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_fields_and_defaults_url(tmp_path):
    article = load_article(write(tmp_path, GOOD))
    assert article.id == "reset-password"
    assert article.title == "Reset your password"
    assert article.url == "/help/reset-password"
    assert article.tags == ("account", "password")
    assert (article.audience, article.area) == ("public", "account-access")
    assert article.body.startswith("# Reset your password")
    assert article.source.endswith("a.md")


@pytest.mark.parametrize("field, replace, expected", [
    ("id", ("id: reset-password\n", ""), "required field is missing"),
    ("title", ("title: Reset your password\n", ""), "required field is missing"),
    ("audience", ("audience: public\n", ""), "required field is missing"),
    ("audience", ("audience: public", "audience: everyone"), "must be one of public, employee, internal"),
    ("id", ("id: reset-password", "id: Reset Password!"), "lowercase letters"),
    ("tags", ("tags: [account, password]", "tags: {a: 1}"), "list of strings"),
    ("url", ("area: account-access", "area: x\nurl: [1]"), "must be a string"),
    ("questions", ("area: account-access", "area: x\nquestions: forgot it"), "list of strings"),
    ("questions", ("area: account-access", "area: x\nquestions: [ok, 3]"), "list of non-empty strings"),
    ("questions", ("area: account-access", "area: x\nquestions: ['" + "a" * 301 + "']"),
     "at most 300 characters"),
])
def test_bad_field_names_file_and_field(tmp_path, field, replace, expected):
    path = write(tmp_path, GOOD.replace(*replace), "broken.md")
    with pytest.raises(ArticleError) as info:
        load_article(path)
    assert info.value.field == field
    assert info.value.path == str(path)
    assert expected in str(info.value)
    assert "broken.md" in str(info.value) and f"'{field}'" in str(info.value)


@pytest.mark.parametrize("text, expected", [
    ("# no front matter\n", "no front matter"),
    ("---\nid: [unclosed\n---\nbody\n", r"not valid YAML \(front matter line"),
    ("---\n- a list\n---\nbody\n", "must be a mapping"),
])
def test_bad_front_matter_names_file(tmp_path, text, expected):
    path = write(tmp_path, text, "bad.md")
    with pytest.raises(ArticleError, match=expected) as info:
        load_article(path)
    assert info.value.path == str(path)


def test_empty_body_is_an_error(tmp_path):
    with pytest.raises(ArticleError, match="no text") as info:
        load_article(write(tmp_path, GOOD.split("# Reset")[0]))
    assert info.value.field == "body"


def test_non_utf8_file_names_file(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes(GOOD.replace("Choose", "Choisissez là").encode("latin-1"))
    with pytest.raises(ArticleError, match="not valid UTF-8") as info:
        load_article(path)
    assert info.value.path == str(path)


def test_duplicate_ids_name_both_files(tmp_path):
    write(tmp_path, GOOD, "one.md")
    (tmp_path / "sub").mkdir()
    write(tmp_path, GOOD, "sub/two.md")
    with pytest.raises(ArticleError, match="duplicate id 'reset-password'") as info:
        load_articles(tmp_path)
    assert "one.md" in str(info.value) and "two.md" in str(info.value)


def test_load_articles_recurses_sorts_and_skips_readme(tmp_path):
    write(tmp_path, GOOD.replace("reset-password", "b-article"), "b.md")
    (tmp_path / "sub").mkdir()
    write(tmp_path, GOOD.replace("reset-password", "a-article"), "sub/a.md")
    write(tmp_path, "# About this folder\n", "README.md")
    assert [a.id for a in load_articles(tmp_path)] == ["a-article", "b-article"]


def test_missing_source_folder(tmp_path):
    with pytest.raises(ArticleError, match="does not exist"):
        load_articles(tmp_path / "nope")


def test_article_built_in_code_is_validated():
    with pytest.raises(ArticleError, match="audience") as info:
        Article(id="fix-1", title="A fix", body="Do this.", audience="secret")
    assert info.value.path == "<article 'fix-1'>"


def test_content_hash_changes_with_content_not_source():
    a = Article(id="x", title="T", body="Body", source="a.md")
    assert a.content_hash() == Article(id="x", title="T", body="Body", source="b.md").content_hash()
    assert a.content_hash() != Article(id="x", title="T", body="Body 2").content_hash()
    assert a.content_hash() != Article(id="x", title="T", body="Body", audience="internal").content_hash()

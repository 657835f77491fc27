"""Foreign FAQ sets: the COVID-QA builder (data/foreign/covid_qa/build.py) on a tiny
fixture, the loader (kb_index.evaluate.faq_set) and the data committed in the repo."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from kb_index import KBError
from kb_index.evaluate import FAQ_SETS, faq_set

ROOT = Path(__file__).resolve().parents[2]
COVID = ROOT / "data" / "foreign" / "covid_qa"

FAQ_CSV = '''question,answer,answer_html,link,name,source,category,country,region,city,lang,last_update
What is a novel coronavirus?,"A new coronavirus.\r\n\r\n\r\nNot seen before.   ",<p>x</p>,"
https://example.org/faq.html",FAQ,CDC,Basics,USA,,,en,2020/03/17
How does the virus spread?,Mainly from person to person.,<p>y</p>,https://example.org/faq.html,FAQ,CDC,Spread,USA,,,en,2020/03/17
How does the virus spread?,Through droplets.,<p>z</p>,https://example.org/other.html,FAQ,WHO,Spread,,,,en,2020/03/18
Can my dog get it?,No evidence so far.,<p>w</p>,https://example.org/pets.html,FAQ,CDC,Pets,USA,,,en,2020/03/17
'''
PAIRS_CSV = '''question_1,question_2,similar
What is a novel coronavirus?,What is a new coronavirus?,1
How does the virus spread?,In which ways is the virus spread?,1
What is a novel coronavirus?,In which ways is the virus spread?,0
Can my dog get it?,What is a new coronavirus?,1
Can my dog get it?,What is a new coronavirus?,1
'''


def load_builder():
    spec = importlib.util.spec_from_file_location("covid_qa_build", COVID / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkout(root: Path) -> Path:
    (root / "data" / "faqs").mkdir(parents=True)
    (root / "data" / "faqs" / "faq_covidbert.csv").write_text(FAQ_CSV, encoding="utf-8")
    (root / "data" / "eval_question_similarity_en.csv").write_text(PAIRS_CSV, encoding="utf-8")
    return root


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_builder_imports_titles_and_answers_and_maps_each_paraphrase_to_every_gold_entry(tmp_path):
    build = load_builder()
    out = tmp_path / "out"
    out.mkdir()
    assert build.main([str(checkout(tmp_path / "covid")), "--out", str(out)]) == 0
    faq = read_jsonl(out / "faq.jsonl")
    assert [e["id"] for e in faq] == ["001-what-is-a-novel-coronavirus", "002-how-does-the-virus-spread",
                                      "003-how-does-the-virus-spread", "004-can-my-dog-get-it"]
    first = faq[0]
    assert first["title"] == "What is a novel coronavirus?"
    assert first["answer"] == "A new coronavirus.\n\nNot seen before."     # whitespace only
    assert first["url"] == "https://example.org/faq.html" and first["source"] == "CDC"
    assert "questions" not in first and "answer_html" not in first
    assert read_jsonl(out / "queries.jsonl") == [
        # one line per paraphrase; a repeated pair counts once; similar = 0 is left out
        {"question": "What is a new coronavirus?", "kind": "paraphrase",
         "article_ids": ["001-what-is-a-novel-coronavirus", "004-can-my-dog-get-it"]},
        # two entries share the question: both are right
        {"question": "In which ways is the virus spread?", "kind": "paraphrase",
         "article_ids": ["002-how-does-the-virus-spread", "003-how-does-the-virus-spread"]}]


def test_builder_reads_a_bare_clone_at_its_head(tmp_path):
    work = checkout(tmp_path / "work")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q", str(work)], check=True)
    subprocess.run(git + ["-C", str(work), "add", "."], check=True)
    subprocess.run(git + ["-C", str(work), "commit", "-qm", "fixture"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(tmp_path / "bare")], check=True)
    build = load_builder()
    assert build.read_source(tmp_path / "bare", build.FAQ).replace("\r\n", "\n") == \
        FAQ_CSV.replace("\r\n", "\n")
    assert len(build.source_commit(tmp_path / "bare")) == 40


def test_builder_refuses_a_pair_whose_faq_question_is_not_in_the_faq(tmp_path):
    build = load_builder()
    entries = build.faq_entries(FAQ_CSV)
    with pytest.raises(ValueError, match="line 2: 'Is it over' is no FAQ question"):
        build.queries("question_1,question_2,similar\nIs it over,Is it done,1\n", entries)


def test_faq_set_imports_each_entry_as_an_article_without_question_lists(tmp_path):
    (tmp_path / "faq.jsonl").write_text(
        json.dumps({"id": "pets", "title": "Can my dog get it?", "answer": "No evidence.",
                    "url": "https://example.org/pets", "source": "CDC"}) + "\n", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"question": "is my cat at risk", "article_ids": ["pets"]}) + "\n", encoding="utf-8")
    found = faq_set(tmp_path)
    assert found.name == tmp_path.name
    [article] = found.articles
    assert (article.id, article.title, article.body, article.url, article.questions) == \
        ("pets", "Can my dog get it?", "No evidence.", "https://example.org/pets", ())
    assert found.questions == [{"question": "is my cat at risk", "article_ids": ["pets"]}]
    assert found.out_of_scope == []                 # eval measures it against the pooled ones


def test_faq_set_reads_a_csv_export_and_names_what_is_missing(tmp_path):
    (tmp_path / "faq.csv").write_text("id,title,answer\npets,Can my dog get it?,No evidence.\n"
                                      "cats,Can my cat get it?,\n", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(KBError, match=r"faq.csv: record 2 has no answer"):
        faq_set(tmp_path)
    (tmp_path / "faq.csv").unlink()
    with pytest.raises(KBError, match="no faq.jsonl or faq.csv"):
        faq_set(tmp_path)
    (tmp_path / "faq.jsonl").write_text('{"id": "x", "title": "t"}\n', encoding="utf-8")
    with pytest.raises(KBError, match=r"faq.jsonl:1: needs the strings 'id', 'title', 'answer'"):
        faq_set(tmp_path)


@pytest.mark.parametrize("folder", FAQ_SETS)
def test_the_faq_sets_in_the_repo_load_and_every_query_names_their_entries(folder):
    found = faq_set(ROOT / folder)
    ids = {a.id for a in found.articles}
    assert len(ids) == len(found.articles) and not any(a.questions for a in found.articles)
    assert found.questions and all(q["article_ids"] and set(q["article_ids"]) <= ids
                                   for q in found.questions)
    assert (ROOT / folder / "LICENSE").is_file() and (ROOT / folder / "README.md").is_file()


def test_covid_qa_counts_match_its_readme():
    found = faq_set(COVID)
    readme = (COVID / "README.md").read_text(encoding="utf-8")
    assert f"{len(found.articles)} FAQ entries" in readme
    assert f"{len(found.questions)} queries" in readme

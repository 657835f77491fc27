"""Evaluation, threshold choice and the command line (with the fake embedder)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import kb_index.building
import kb_index.cli
from kb_index import KBError
from kb_index.cli import main
from kb_index.embedding import FakeEmbedder
from kb_index.evaluate import (choose_threshold, cross_validate, evaluate, format_table, hint3_messages,
                               hint3_sets, load_questions)

QUESTIONS = [
    {"question": "how do I reset my password", "article_ids": ["reset-password"], "kind": "plain"},
    {"question": "refund card statement days", "article_ids": ["refund-timing"], "kind": "short"},
    {"question": "where is my parcel tracking", "article_ids": ["track-your-order"], "kind": "plain"},
]
OOS = [{"question": "zebra quantum marmalade", "article_ids": [], "kind": "oos"}]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_choose_threshold_allows_at_most_the_share_asked():
    oos = np.linspace(0.0, 0.99, 100)                 # 100 out-of-scope confidences
    assert (oos >= choose_threshold(oos)).sum() == 3   # MAX_OOS_ANSWERED: 3%
    assert (oos >= choose_threshold(oos, 0.05)).sum() == 5
    assert choose_threshold(np.array([0.2, 0.4])) == pytest.approx(0.401)
    assert choose_threshold(np.array([])) == 0.0


def test_evaluate_reports_every_method(index):
    report = evaluate(index, QUESTIONS, OOS)
    assert [m.method for m in report.methods] == ["bm25", "dense", "hybrid (weighted)", "hybrid (rrf)",
                                            "hybrid (zscore)"]
    hybrid = report.methods[2]
    assert hybrid.recall_at_1 == 1.0 and hybrid.mrr_at_10 == 1.0
    assert set(hybrid.recall_at_1_by_kind) == {"plain", "short"}
    assert report.out_of_scope_answered == 0.0
    assert report.in_scope_answered_correctly == 1.0
    table = format_table(report)
    assert "| hybrid (weighted) | 1.000 | 1.000 | 1.000 | – | 100.0% | 0.0% | – | – |" in table


def test_evaluate_measures_the_other_confidence_score_held_out(index, index_dir, embedder):
    from kb_index import open_index

    questions = QUESTIONS * 2                        # cross-validation needs five of each
    oos = [{"question": q, "article_ids": []} for q in
           ("zebra quantum marmalade", "opera tickets tonight", "capital of france",
            "write a sonnet", "best pizza in town")]
    report = evaluate(index, questions, oos)
    assert report.confidence_score == "fused" and report.alternative[0] == "weighted"
    assert "from the weighted score instead, held out" in format_table(report)
    weighted = evaluate(open_index(index_dir, embedder=embedder, confidence_score="weighted"),
                        questions, oos)
    assert weighted.alternative[0] == "fused"
    # each report's alternative is the other's measurement in use
    assert weighted.alternative[1].answered_correctly == report.methods[2].held_out.answered_correctly
    assert report.alternative[1].answered_correctly == weighted.methods[2].held_out.answered_correctly


SECTIONED = [dict(q, sections=s) for q, s in zip(QUESTIONS, [
    ["reset-password#steps"], ["refund-timing#card-refunds"], ["track-your-order#nowhere"]])]


def test_passage_accuracy_counts_the_section_shown_for_the_first_hit(index):
    report = evaluate(index, SECTIONED, OOS)
    hybrid = report.methods[2]
    shown = {q: s for q, _, s in report.passage_misses}
    assert hybrid.passage_at_1 == pytest.approx((len(SECTIONED) - len(shown)) / len(SECTIONED))
    assert "where is my parcel tracking" in shown     # no such section: never right
    assert "how do I reset my password" not in shown
    assert report.methods[0].passage_at_1 is None     # BM25 alone shows no chosen section


def test_cross_validation_chooses_on_other_folds_and_measures_the_fold_left_out():
    correct = np.ones(50, dtype=bool)
    in_conf = np.linspace(0.0, 1.0, 50)
    oos_conf = np.linspace(0.0, 0.99, 100)
    sources = ["own"] * 50 + ["other"] * 50
    held = cross_validate(correct, in_conf, oos_conf, sources, max_oos=0.03, seed=1)
    # each training pool of 80 lets 2 through: thresholds sit between its 3rd and 2nd best
    assert 0.9 < held.thresholds[0] <= held.thresholds[1] < 0.99
    assert 0.0 < held.oos_answered <= 0.05
    assert held.oos_answered_by_source["own"] == 0.0 and held.oos_answered_by_source["other"] > 0
    assert held.answered_correctly == pytest.approx((in_conf >= np.mean(held.thresholds)).mean(), abs=0.03)
    assert held.fold_range[0] <= held.answered_correctly <= held.fold_range[1]
    assert cross_validate(correct[:3], in_conf[:3], oos_conf, sources) is None


def test_hint3_messages_reads_the_out_of_scope_rows(tmp_path):
    folder = tmp_path / "dataset" / "v2" / "test"
    folder.mkdir(parents=True)
    (folder / "shop_test.csv").write_text("sentence,label\nhi there,NO_NODES_DETECTED\n"
                                         "refund please,REFUND\n  ,NO_NODES_DETECTED\n", encoding="utf-8")
    assert hint3_messages(tmp_path) == {"shop": ["hi there"]}
    with pytest.raises(KBError, match="no HINT3 test files"):
        hint3_messages(tmp_path / "nowhere")


def test_evaluate_refuses_unknown_article_ids(index):
    with pytest.raises(KBError, match="missing from the index: nope"):
        evaluate(index, [{"question": "x", "article_ids": ["nope"]}], [])


def test_load_questions_names_file_and_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a", "article_ids": []}\n\n{oops\n')
    with pytest.raises(KBError, match=r"q.jsonl:3: not valid JSON"):
        load_questions(path)
    path.write_text('{"question": 3, "article_ids": []}\n')
    with pytest.raises(KBError, match=r"q.jsonl:1: needs a 'question'"):
        load_questions(path)


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(kb_index.building, "Embedder", FakeEmbedder)


def test_cli_build_search_eval(fake_model, kb_dir, tmp_path, capsys):
    out = str(tmp_path / "idx")
    assert main(["build", "--source", str(kb_dir), "--out", out, "--quiet"]) == 0
    assert "full rebuild" in capsys.readouterr().out
    assert main(["build", "--source", str(kb_dir), "--out", out, "--quiet"]) == 0
    assert "incremental, 11 chunks (flat), 0 embedded" in capsys.readouterr().out

    assert main(["search", "reset my password", "--index", out, "-k", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hits"][0]["article_id"] == "reset-password" and len(result["hits"]) == 2

    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    oos = write_jsonl(tmp_path / "o.jsonl", OOS)
    assert main(["eval", "--questions", str(questions), "--oos", str(oos), "--index", out,
                 "--source", str(kb_dir), "--imported-index", str(tmp_path / "imported"),
                 "--no-foreign"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\| hybrid \(weighted\) \| 1\.000 \|", table)
    assert table.count("| hybrid (weighted) |") == 4 and "KB imported as is" in table


def test_cli_reports_errors_without_traceback(fake_model, tmp_path, capsys):
    assert main(["search", "refund", "--index", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no manifest.json" in err and "Traceback" not in err


def test_cli_bad_article_exit_code(fake_model, tmp_path, capsys):
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "bad.md").write_text("---\nid: x\n---\nbody\n")
    assert main(["build", "--source", str(tmp_path / "kb"), "--out", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert "bad.md: field 'title': required field is missing" in err


def _hint3_folder(root):
    for split, rows in (("train", "sentence,label\nwhen will it arrive,DELIVERY_TIME\n"
                                  "how long is delivery,DELIVERY_TIME\nwhen will it arrive,DELIVERY_TIME\n"
                                  "can i pay cash,COD\n"),
                        ("test", "sentence,label\nparcel not here yet,DELIVERY_TIME\ncash on delivery?,COD\n"
                                 "hello,NO_NODES_DETECTED\nsomething else,UNSEEN_INTENT\n")):
        folder = root / "dataset" / "v2" / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"shop_{split}.csv").write_text(rows, encoding="utf-8")
    return root


def test_hint3_sets_import_each_bot_as_a_kb_of_its_intents(tmp_path):
    [shop] = hint3_sets(_hint3_folder(tmp_path))
    assert shop.name == "HINT3 shop"
    by_id = {a.id: a for a in shop.articles}
    assert set(by_id) == {"cod", "delivery_time"}
    assert by_id["delivery_time"].title == "Delivery time"
    assert by_id["delivery_time"].questions == ("when will it arrive", "how long is delivery")  # once each
    assert shop.questions == [
        {"question": "parcel not here yet", "article_ids": ["delivery_time"], "kind": "shop"},
        {"question": "cash on delivery?", "article_ids": ["cod"], "kind": "shop"}]   # unseen intent left out
    assert shop.out_of_scope == [{"question": "hello", "article_ids": []}]
    with pytest.raises(KBError, match="no HINT3 test files"):
        hint3_sets(tmp_path / "nowhere")


def _faq_folder(root):
    """A foreign FAQ of three entries, titles and answers, and five customers' questions."""
    root.mkdir()
    write_jsonl(root / "faq.jsonl", [
        {"id": "pets", "title": "Can my dog catch the virus?", "answer": "There is no evidence that "
         "pets spread it; wash your hands after touching animals.", "url": "https://example.org/pets"},
        {"id": "masks", "title": "Should I wear a mask?", "answer": "Wear a cloth face covering in "
         "public places where distancing is hard.", "url": "https://example.org/masks"},
        {"id": "testing", "title": "Where can I get tested?", "answer": "Call your doctor or the "
         "local health department to find a testing site.", "url": "https://example.org/testing"}])
    write_jsonl(root / "queries.jsonl", [
        {"question": q, "article_ids": [a], "kind": "paraphrase"} for q, a in (
            ("can dogs catch the virus", "pets"), ("is a mask needed in public", "masks"),
            ("where to get tested", "testing"), ("do pets spread it", "pets"),
            ("face covering in public places", "masks"))])
    return root


def test_cli_eval_runs_the_foreign_sets_in_the_same_command(fake_model, kb_dir, tmp_path, capsys):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    oos = write_jsonl(tmp_path / "o.jsonl", OOS)
    hint3 = _hint3_folder(tmp_path / "hint3")
    faq = _faq_folder(tmp_path / "shopfaq")
    assert main(["eval", "--questions", str(questions), "--oos", str(oos), "--index", str(tmp_path / "idx"),
                 "--source", str(kb_dir), "--imported-index", "", "--hint3", str(hint3),
                 "--faq-set", str(faq)]) == 0
    out = capsys.readouterr().out
    assert "## KB as shipped" in out and "## Foreign: HINT3 shop" in out
    assert "## Foreign: shopfaq (an FAQ imported as is" in out
    # no out-of-scope messages of its own: measured against the pooled ones (ours + HINT3's)
    assert "5 in-scope questions, 0 out-of-scope + 2 from other sources" in out
    assert out.count("Fusion (hybrid (weighted))") == 3     # the fusion's margins, per set
    summary = out.split("## Summary")[1]
    assert "| KB as shipped |" in summary and "| Foreign: HINT3 shop |" in summary
    assert "| Foreign: shopfaq |" in summary
    assert (tmp_path / "idx_hint3_shop").is_dir() and (tmp_path / "idx_shopfaq").is_dir()


def test_cli_eval_measures_the_faq_sets_in_the_repo_by_default(fake_model, kb_dir, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setattr(kb_index.cli, "FAQ_SETS", (str(_faq_folder(tmp_path / "covid")),))
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    oos = write_jsonl(tmp_path / "o.jsonl", OOS)
    common = ["eval", "--questions", str(questions), "--oos", str(oos), "--index", str(tmp_path / "idx"),
              "--source", str(kb_dir), "--imported-index", ""]
    assert main(common) == 0
    assert "## Foreign: covid (an FAQ imported as is" in capsys.readouterr().out
    assert main(common + ["--no-foreign"]) == 0
    assert "## Foreign" not in capsys.readouterr().out

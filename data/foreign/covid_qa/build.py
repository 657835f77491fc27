"""Build this folder's eval set from deepset's COVID-QA (Apache-2.0): a public FAQ, imported
as a KB the way a customer imports one (titles and answers, no question lists), and the
paraphrases deepset's annotators wrote of its questions, each mapped to the FAQ entries
it asks for.

    python data/foreign/covid_qa/build.py /path/to/COVID-QA [--out data/foreign/covid_qa]

The source is a checkout of https://github.com/deepset-ai/COVID-QA or a bare clone of it
(read at its HEAD with ``git show``). Standard library only. Writes:

- ``faq.jsonl``: one FAQ entry a line, ``{"id", "title", "answer", "url", "source",
  "category", "last_update"}`` from ``data/faqs/faq_covidbert.csv`` (title = the FAQ's
  question, answer = its plain-text answer, whitespace normalised; link and source kept);
- ``queries.jsonl``: one paraphrase a line, ``{"question", "article_ids", "kind"}`` from
  the ``similar = 1`` rows of ``data/eval_question_similarity_en.csv`` (question_2, the
  paraphrase; its gold ids are every entry whose title is question_1, of every row that
  has this paraphrase).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

FAQ = "data/faqs/faq_covidbert.csv"
PAIRS = "data/eval_question_similarity_en.csv"
KIND = "paraphrase"


def read_source(root: Path, path: str) -> str:
    """A file of the COVID-QA checkout, or of the bare clone's HEAD."""
    if (root / path).is_file():
        return (root / path).read_text(encoding="utf-8")
    return _git(root, "show", f"HEAD:{path}")


def source_commit(root: Path) -> str:
    try:
        return _git(root, "rev-parse", "HEAD").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={_git_dir(root)}", *args], check=True,
                          capture_output=True, text=True, encoding="utf-8").stdout


def _git_dir(root: Path) -> Path:
    return root / ".git" if (root / ".git").exists() else root


def slug(text: str, size: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:size].strip("-")


def clean(text: str) -> str:
    """Plain text as published: line ends unified, trailing spaces and runs of blank lines
    dropped; nothing else changed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def faq_entries(faq_csv: str) -> list[dict]:
    """One record per FAQ row, in the file's order; ids ``NNN-slug-of-the-question``."""
    entries = []
    for number, row in enumerate(csv.DictReader(io.StringIO(faq_csv)), 1):
        title, answer = clean(row["question"]), clean(row["answer"])
        if not title or not answer:
            raise ValueError(f"{FAQ} row {number}: empty question or answer")
        entries.append({"id": f"{number:03d}-{slug(title)}", "title": title, "answer": answer,
                        "url": row.get("link", "").strip(), "source": row.get("source", "").strip(),
                        "category": row.get("category", "").strip(),
                        "last_update": row.get("last_update", "").strip()})
    return entries


def queries(pairs_csv: str, entries: list[dict]) -> list[dict]:
    """The similar paraphrases, each once, gold = every entry titled as one of its
    question_1s (entries that share a title are all right)."""
    by_title: dict[str, list[str]] = {}
    for entry in entries:
        by_title.setdefault(entry["title"], []).append(entry["id"])
    gold: dict[str, list[str]] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO(pairs_csv)), 2):
        if row["similar"].strip() != "1":
            continue
        faq_question, paraphrase = clean(row["question_1"]), clean(row["question_2"])
        if faq_question not in by_title:
            raise ValueError(f"{PAIRS} line {number}: {faq_question!r} is no FAQ question")
        ids = gold.setdefault(paraphrase, [])
        ids += [i for i in by_title[faq_question] if i not in ids]
    return [{"question": q, "article_ids": ids, "kind": KIND} for q, ids in gold.items()]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="COVID-QA checkout or bare clone")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    entries = faq_entries(read_source(args.source, FAQ))
    found = queries(read_source(args.source, PAIRS), entries)
    write_jsonl(args.out / "faq.jsonl", entries)
    write_jsonl(args.out / "queries.jsonl", found)
    reached = {i for q in found for i in q["article_ids"]}
    print(f"COVID-QA {source_commit(args.source)}: {len(entries)} FAQ entries, {len(found)} queries "
          f"reaching {len(reached)} entries -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

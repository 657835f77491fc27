"""Command line: ``python -m kb_index build|search|eval`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace

from . import settings
from .articles import load_articles
from .building import build, build_articles, open_index
from .errors import KBError
from .evaluate import (FAQ_SETS, evaluate, faq_set, format_summary, format_table, hint3_messages,
                       hint3_sets, load_questions)
from .search import FUSIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)

    p_build = commands.add_parser("build", help="build or update the index from the articles")
    p_build.add_argument("--source", default=settings.get("source_dir"), help="article folder")
    p_build.add_argument("--out", default=settings.get("index_dir"), help="index folder")
    p_build.add_argument("--quiet", action="store_true", help="no progress bar")

    p_search = commands.add_parser("search", help="search the index")
    p_search.add_argument("query")
    p_search.add_argument("-k", type=int, default=5, help="number of hits (default 5)")
    p_search.add_argument("--audience", choices=("public", "employee", "internal"), default="public")
    p_search.add_argument("--index", default=settings.get("index_dir"), help="index folder")
    p_search.add_argument("--method", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p_search.add_argument("--json", action="store_true", help="print the result as JSON")

    p_eval = commands.add_parser("eval", help="measure retrieval and choose the threshold")
    p_eval.add_argument("--questions", default="data/eval/kb_questions.jsonl")
    p_eval.add_argument("--oos", default="data/eval/out_of_scope.jsonl")
    p_eval.add_argument("--index", default=settings.get("index_dir"), help="index folder")
    p_eval.add_argument("--source", default=settings.get("source_dir"),
                        help="article folder (the index is brought up to date first)")
    p_eval.add_argument("--fusion", choices=FUSIONS, default=None,
                        help="fusion whose threshold is chosen (default: the configured one)")
    p_eval.add_argument("--misses", action="store_true", help="list the questions missed")
    p_eval.add_argument("--hint3", default=None, metavar="DIR",
                        help="also count HINT3's out-of-scope messages (the folder holding dataset/v2)")
    p_eval.add_argument("--imported-index", default=None, metavar="DIR",
                        help="index of the same articles without their question lists, as a company "
                             "would import its FAQ, built or updated here (default: <index>_imported; "
                             "'' to skip)")
    p_eval.add_argument("--faq-set", action="append", default=None, metavar="DIR",
                        help="a foreign FAQ imported as is (DIR/faq.jsonl or faq.csv: id, title, "
                             "answer[, url]; DIR/queries.jsonl: question, article_ids), index built "
                             "in <index>_<DIR's name>; repeat for more (default: "
                             f"{', '.join(FAQ_SETS)})")
    p_eval.add_argument("--no-foreign", action="store_true",
                        help="evaluate no foreign set: neither the FAQ sets nor, with --hint3, "
                             "HINT3's bots (indexes built in <index>_hint3_<bot>)")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return {"build": _build, "search": _search, "eval": _eval}[args.command](args)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace) -> int:
    report = build(args.source, args.out, show_progress=not args.quiet)
    kind = "full rebuild" if report.full_rebuild else "incremental"
    print(f"{args.out}: {kind}, {report.chunks_total} chunks ({report.index_type}), "
          f"{report.chunks_embedded} embedded in {report.seconds:.1f}s; "
          f"added {len(report.added)}, changed {len(report.changed)}, "
          f"removed {len(report.removed)}, unchanged {report.unchanged}")
    return 0


def _search(args: argparse.Namespace) -> int:
    result = open_index(args.index).search(args.query, k=args.k, audience=args.audience,
                                           method=args.method)
    if args.json:
        print(json.dumps({"query": args.query, "answerable": result.answerable,
                          "confidence": result.confidence,
                          "hits": [asdict(h) for h in result.hits]}, indent=2))
        return 0
    print(f"answerable: {result.answerable} (confidence {result.confidence:.3f})")
    for n, hit in enumerate(result.hits, 1):
        print(f"{n}. [{hit.score:.4f}] {hit.title} ({hit.article_id}, {hit.audience}) {hit.url}")
        print(f"   {hit.snippet}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    options = {"fusion": args.fusion} if args.fusion else {}
    index = open_index(args.index, source_dir=args.source, **options)
    questions, oos = load_questions(args.questions), load_questions(args.oos)
    extra = {f"HINT3 {bot}": texts for bot, texts in hint3_messages(args.hint3).items()} \
        if args.hint3 else None
    sets = [("KB as shipped (articles with their front-matter questions)", index)]
    imported_dir = f"{args.index.rstrip('/')}_imported" if args.imported_index is None else args.imported_index
    if imported_dir:
        imported = [replace(a, questions=(), question_sections=()) for a in load_articles(args.source)]
        plain_index, _ = build_articles(imported, imported_dir, index.embedder, **options)
        sets.append(("KB imported as is (titles and text, no question lists)", plain_index))
    runs = [(title, searched, questions, oos, extra) for title, searched in sets]
    # an FAQ set without out-of-scope messages of its own is measured against the pooled ones
    pooled = {args.oos: [q["question"] for q in oos], **(extra or {})}
    for folder in ([] if args.no_foreign else args.faq_set or FAQ_SETS):
        foreign = faq_set(folder)
        faq_index, _ = build_articles(foreign.articles, f"{args.index.rstrip('/')}_{foreign.name}",
                                      index.embedder, **options)
        runs.append((f"Foreign: {foreign.name} (an FAQ imported as is: titles and answers, no "
                     f"question lists)", faq_index, foreign.questions, foreign.out_of_scope,
                     None if foreign.out_of_scope else pooled))
    if args.hint3 and not args.no_foreign:
        for foreign in hint3_sets(args.hint3):
            folder = f"{args.index.rstrip('/')}_{foreign.name.lower().replace(' ', '_')}"
            foreign_index, _ = build_articles(foreign.articles, folder, index.embedder, **options)
            runs.append((f"Foreign: {foreign.name} (intents as articles, training sentences as "
                         f"question lists, real customers' test messages)", foreign_index,
                         foreign.questions, foreign.out_of_scope, None))
    reports = []
    for title, searched, questions, oos, extra in runs:
        report = evaluate(searched, questions, oos, extra)
        reports.append((title.split(" (")[0], report))
        print(f"## {title}\n")
        print(format_table(report))
        if args.misses:
            print("\nmissed at rank 1 (question | expected | got):")
            for question, expected, got in report.misses:
                print(f"- {question} | {', '.join(expected)} | {got}")
            print("\npassage shown is not gold (question | gold | shown):")
            for question, gold, shown in report.passage_misses:
                print(f"- {question} | {', '.join(gold)} | {shown}")
        print()
    if len(reports) > 1:
        print(f"## Summary (first hybrid row of each set)\n\n{format_summary(reports)}")
    return 0

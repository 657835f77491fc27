"""How often the KB answers messages that real customers wrote to *other* companies' bots.

HINT3 (Arora et al. 2020, hellohaptik/HINT3) holds real messages sent to three support
bots (a mattress shop, a pharmacy, a fantasy-sports app). The messages those bots could
not map to any of their intents (label ``NO_NODES_DETECTED``) are greetings, fragments,
complaints and questions about mattresses, medicines and cricket contests: none is
answered by the Northwind help centre. So the share of them our search calls
*answerable* is a false-answer rate on text customers really wrote, next to the one
measured on ``data/eval/out_of_scope.jsonl`` (which we wrote).

    python bench/eval_hint3_oos.py ../shared/data/hint3 [--index var/kb_index] [--examples 10]

Prints, per bot and in all, the messages searched, the share answered at the configured
threshold, and the messages answered with the highest confidence (to read: a few are
generic shop questions such as "cancel my order", which the KB does answer).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # process start, before FAISS and torch load
import kb_index  # noqa: E402
from kb_index.errors import QueryError  # noqa: E402
from kb_index.evaluate import hint3_messages  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hint3", type=Path, help="the HINT3 folder (holds dataset/v2/test)")
    parser.add_argument("--index", default="var/kb_index")
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    index = kb_index.open_index(args.index, source_dir=args.source)
    index.warm_up()
    print(f"threshold in use: {index.answer_threshold:.3f}")
    print("| bot | out-of-scope messages | answered | share answered |")
    print("| --- | --- | --- | --- |")
    total = answered_total = 0
    answered_examples = []
    started = time.perf_counter()
    for bot, texts in hint3_messages(args.hint3).items():
        answered = 0
        for text in texts:
            try:
                result = index.search(text[: index.max_query_chars], k=1)
            except QueryError:
                continue
            if result.answerable:
                answered += 1
                answered_examples.append((result.confidence, bot, text, result.hits[0].article_id))
        total += len(texts)
        answered_total += answered
        print(f"| {bot} | {len(texts)} | {answered} | {answered / len(texts):.1%} |")
    print(f"| all | {total} | {answered_total} | {answered_total / total:.1%} |")
    print(f"\n{total} searches in {time.perf_counter() - started:.1f} s")
    print("\nAnswered with the highest confidence:")
    for conf, bot, text, article in sorted(answered_examples, reverse=True)[: args.examples]:
        print(f"  {conf:.3f}  [{bot}] {text!r} -> {article}")


if __name__ == "__main__":
    main()

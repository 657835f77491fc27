"""How the constants of the section choice (``kb_index.sections.Weights``) are chosen.

For each in-scope question of the eval set whose first hybrid hit is a right article,
the section shown is right when it is one of the question's gold sections
(``data/eval/README.md``). This script collects what the choice looks at once per
question (``Index.section_evidence``), then tries every combination of a small grid of
weights, on both indexes that ``python -m kb_index eval`` measures (the KB as shipped,
with its front-matter questions, and the same articles imported without them).

The figure to trust is the held-out one: the combination is chosen on four fifths of the
questions (the best mean passage accuracy over the two indexes) and measured on the fifth
left out, 5 folds x 5 shufflings. The in-sample best is printed beside it only to show
how much a grid choice flatters itself.

    PYTHONPATH=. .venv/bin/python bench/eval_section_choice.py --only heading question pairs

``--only`` names the weights to vary (the others keep their values in use); without it
every weight varies, ~200,000 combinations, which takes hours. Questions are ranked at
the depth ``eval`` and the chat action rank at (``evaluate.EVAL_K``), so the in-sample
figure of the weights in use is the passage accuracy@1 that ``eval`` prints.
``--cache FILE`` keeps the collected evidence (a pickle; delete it after the KB, the
index or the eval set changes), so trying other grids costs no embedding; ``--misses``
lists the questions whose first article is right and whose shown section is not gold.
The choice scores each section by the cosine of the question with the index's *section
vectors* (its heading and text embedded without the article's title and tags);
``--chunk-vectors`` measures it with the chunks' own vectors instead (title and tags
first), as it was before the index kept section vectors.
"""
from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kb_index.articles import load_articles  # noqa: E402
from kb_index.building import build_articles, open_index  # noqa: E402
from kb_index.evaluate import EVAL_K, _audience, load_questions  # noqa: E402
from kb_index.sections import WEIGHTS, Weights, anchor  # noqa: E402

GRID = {"keyword": (0.0, 0.1, 0.2, 0.3, 0.4), "steps": (0.0, 0.05, 0.1, 0.15),
        "how": (0.0, 0.05, 0.1, 0.15, 0.2), "question": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
        "floor": (0.0, 0.3, 0.4, 0.5, 0.6, 0.7), "heading": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7),
        "pairs": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)}


def collect(index, questions: list[dict]) -> list[tuple | None]:
    """Per labelled question: (evidence, gold anchors, each candidate chunk's vector in the
    FAISS store, the question's vector) when the first article is right, else None (a miss
    whatever the weights)."""
    labelled = [q for q in questions if q.get("sections")]
    vectors = index.embedder.encode([index.correct(q["question"]) for q in labelled])
    out = []
    for q, vector in zip(labelled, vectors):
        ranked = index.rank(q["question"], EVAL_K, _audience(index, q), vector=vector)
        if not ranked or ranked[0].article_id not in q["article_ids"]:
            out.append(None)
            continue
        first = ranked[0].article_id
        gold = [s.split("#", 1)[1] for s in q["sections"] if s.split("#", 1)[0] == first]
        evidence = index.section_evidence(ranked[0], q["question"], vector)
        chunk_vectors = index._store.vectors(index._section_rows.get(first, []))
        out.append((evidence, gold, chunk_vectors, vector))
    return out


def with_chunk_vectors(items: list[list]) -> list[list]:
    """The same evidence with each section's cosine taken with its chunk's vector (the
    article's title and tags, then the section) instead of its section vector."""
    return [[None if item is None or item[0] is None else
             (replace(item[0], cosine=(item[2] @ item[3]).astype(np.float32)), *item[1:])
             for item in index_items] for index_items in items]


def right(items, weights: Weights) -> np.ndarray:
    return np.array([item is not None and item[0] is not None
                     and anchor(item[0].choose(weights)) in item[1] for item in items], dtype=bool)


def print_misses(labelled: list[dict], items, names) -> None:
    """The questions whose first article is right but whose shown section is not gold."""
    for name, index_items in zip(names, items):
        misses = [(q["question"], item[1], anchor(item[0].choose(WEIGHTS)))
                  for q, item in zip(labelled, index_items)
                  if item is not None and item[0] is not None
                  and anchor(item[0].choose(WEIGHTS)) not in item[1]]
        print(f"{name}: {len(misses)} questions with the right article and another section")
        for question, gold, shown in misses:
            print(f"  {question}\n    gold: {', '.join(gold)}\n    shown: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", default="data/eval/kb_questions.jsonl")
    parser.add_argument("--index", default="var/kb_index")
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=tuple(GRID), nargs="*", default=None,
                        help="vary only these weights; the others keep their values in use")
    parser.add_argument("--cache", type=Path, default=None,
                        help="pickle of the collected evidence: read when it exists, else written")
    parser.add_argument("--misses", action="store_true",
                        help="list the right-article, wrong-section questions (weights in use)")
    parser.add_argument("--chunk-vectors", action="store_true",
                        help="score with the chunks' vectors (title and tags first) instead of "
                             "the index's section vectors")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    names = ("as shipped", "imported as is")
    if args.cache is not None and args.cache.exists():
        items = pickle.loads(args.cache.read_bytes())
    else:
        shipped = open_index(args.index, source_dir=args.source)
        imported, _ = build_articles([replace(a, questions=(), question_sections=())
                                      for a in load_articles(args.source)],
                                     f"{args.index.rstrip('/')}_imported", shipped.embedder)
        items = [collect(index, questions) for index in (shipped, imported)]
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(items))
    if args.chunk_vectors:
        items = with_chunk_vectors(items)
    if args.misses:
        print_misses([q for q in questions if q.get("sections")], items, names)
    grid = {name: values if args.only is None or name in args.only else (getattr(WEIGHTS, name),)
            for name, values in GRID.items()}
    combos = [Weights(**dict(zip(grid, values))) for values in itertools.product(*grid.values())]
    table = np.array([[right(it, w) for it in items] for w in combos])  # combo x index x question
    n = table.shape[2]
    print(f"{n} labelled questions; {len(combos)} weight combinations")
    current = combos.index(WEIGHTS) if WEIGHTS in combos else None
    for name, k in zip(names, range(2)):
        best = int(table[:, k].mean(axis=1).argmax())
        line = f"{name}: in-sample best {table[best, k].mean():.3f} with {combos[best]}"
        if current is not None:
            line += f"; the weights in use {table[current, k].mean():.3f}"
        print(line)
    rng = np.random.default_rng(args.seed)
    held = [[], []]
    chosen = []
    for _ in range(5):
        folds = np.array_split(rng.permutation(n), 5)
        for f in range(5):
            train = np.concatenate([folds[j] for j in range(5) if j != f])
            pick = int(table[:, :, train].mean(axis=(1, 2)).argmax())
            chosen.append(combos[pick])
            for k in range(2):
                held[k].append(table[pick, k, folds[f]].mean())
    for name, k in zip(names, range(2)):
        print(f"{name}: held out (5x5 folds) {np.mean(held[k]):.3f} "
              f"(folds {min(held[k]):.3f}-{max(held[k]):.3f})")
    both = int(table.mean(axis=(1, 2)).argmax())
    print(f"chosen on all questions (both indexes): {combos[both]}: "
          + ", ".join(f"{name} {table[both, k].mean():.3f}" for name, k in zip(names, range(2))))
    print("weights chosen in the folds: "
          + ", ".join(f"{w}" for w in sorted(set(chosen), key=chosen.count, reverse=True)[:3]))


if __name__ == "__main__":
    main()

"""Build throughput of the KB index: chunks per second, with the real model.

Copies the articles of ``--source`` ``--copies`` times (each copy with new ids) into a
temporary folder, then times

- a full build (chunking, embedding, FAISS, BM25, files), in chunks/s,
- a no-change rebuild (manifest and hashes only),
- an incremental rebuild after one article changed,
- ``upsert_article`` of one article into the loaded index (what the service does).

    .venv/bin/python bench/bench_kb_build.py                  # data/kb once
    .venv/bin/python bench/bench_kb_build.py --copies 5
    CARE_EMBEDDING_RUNTIME=torch .venv/bin/python bench/bench_kb_build.py   # sentence-transformers
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runs from the repo root as documented

from kb_index import Article, Embedder, build, open_index  # noqa: E402
from kb_index.articles import load_articles  # noqa: E402


def copy_kb(source: Path, target: Path, copies: int) -> int:
    count = 0
    for n in range(copies):
        for path in sorted(source.rglob("*.md")):
            if path.name.lower() == "readme.md":
                continue
            text = path.read_text(encoding="utf-8")
            if n:
                text = re.sub(r"^id: (.+)$", rf"id: \1-copy{n}", text, count=1, flags=re.M)
            (target / f"{path.stem}-{n}.md").write_text(text, encoding="utf-8")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="data/kb")
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    # as `python -m kb_index build` does; CARE_EMBEDDING_RUNTIME=torch for sentence-transformers
    embedder = Embedder()
    embedder.prepare()
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        kb, out = Path(tmp, "kb"), Path(tmp, "index")
        kb.mkdir()
        articles = copy_kb(Path(args.source), kb, args.copies)

        started = time.perf_counter()
        full = build(kb, out, embedder, show_progress=True)
        full_s = time.perf_counter() - started

        started = time.perf_counter()
        build(kb, out, embedder)
        noop_s = time.perf_counter() - started

        first = sorted(kb.glob("*.md"))[0]
        first.write_text(first.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
        started = time.perf_counter()
        one = build(kb, out, embedder)
        one_s = time.perf_counter() - started

        index = open_index(out, embedder=embedder)
        sample = load_articles(kb)[0]
        article = Article(id="bench-upsert", title=sample.title, body=sample.body, audience="internal")
        started = time.perf_counter()
        index.upsert_article(article)
        upsert_s = time.perf_counter() - started

    load = os.getloadavg()[0]
    print(f"\n{articles} articles, {full.chunks_total} chunks, embedding runtime {embedder.backend}, "
          f"load average {load:.1f}")
    print("| step | seconds | chunks/s |")
    print("| --- | --- | --- |")
    print(f"| full build | {full_s:.1f} | {full.chunks_total / full_s:.1f} |")
    print(f"| rebuild, nothing changed | {noop_s:.2f} | – |")
    print(f"| rebuild, 1 article changed ({one.chunks_embedded} chunks) | {one_s:.2f} | – |")
    print(f"| upsert_article (embed + BM25 + save) | {upsert_s:.3f} | – |")


if __name__ == "__main__":
    main()

"""Settings of kb_index, kept as data: each has a default, an environment variable
and a one-line help.  ``docs/kb_index.md`` lists every one (a test checks).

Precedence: code default < environment variable < explicit argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: object
    parse: Callable[[str], object]
    help: str


# Chosen by `python -m kb_index eval --hint3 ../shared/data/hint3` on data/eval: the highest
# share of in-scope questions answered correctly with at most 3% of out-of-scope messages
# answered (our 107 plus HINT3's 1,350 real ones). Whole set: 77.9% answered correctly at
# 3.0%; the same choice cross-validated (5x5 folds, the figure to expect on new questions):
# 78.2% answered correctly, 3.0% of held-out out-of-scope messages answered.
DEFAULT_ANSWER_THRESHOLD = 0.701

SETTINGS: tuple[Setting, ...] = (
    Setting("source_dir", "CARE_KB_SOURCE_DIR", "data/kb", str,
            "Folder of the KB article files (Markdown with front matter)."),
    Setting("index_dir", "CARE_KB_INDEX_DIR", "var/kb_index", str,
            "Folder the index is built into and loaded from."),
    Setting("embedding_model", "CARE_EMBEDDING_MODEL", None, str,
            "Folder of a sentence-transformers model; default: the packaged all-MiniLM-L6-v2."),
    Setting("answer_threshold", "CARE_KB_ANSWER_THRESHOLD", DEFAULT_ANSWER_THRESHOLD, float,
            "Minimum confidence of the best hit for a search to count as answerable."),
    Setting("hnsw_threshold", "CARE_KB_HNSW_THRESHOLD", 50_000, int,
            "Number of chunks from which the vector index is HNSW instead of exact (flat)."),
    Setting("hnsw_ef_search", "CARE_KB_HNSW_EF_SEARCH", 128, int,
            "HNSW search breadth (efSearch); higher is slower and more exact."),
    Setting("ivf_threshold", "CARE_KB_IVF_THRESHOLD", 200_000, int,
            "Number of chunks from which the vector index is IVF-PQ with exact re-ranking instead of HNSW."),
    Setting("ivf_nprobe", "CARE_KB_IVF_NPROBE", 128, int,
            "IVF lists searched per query (nprobe); higher is slower and more exact."),
    Setting("max_query_chars", "CARE_KB_MAX_QUERY_CHARS", 1000, int,
            "Longest query accepted, in characters; longer ones raise QueryError."),
    Setting("chunk_chars", "CARE_KB_CHUNK_CHARS", 900, int,
            "Target size of a chunk in characters (sections longer than this are split)."),
    Setting("chunk_overlap", "CARE_KB_CHUNK_OVERLAP", 150, int,
            "Characters shared by consecutive chunks of one long section."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, override: object = None) -> object:
    """Value of setting ``name``: ``override`` if given, else its env var, else the default."""
    setting = _BY_NAME[name]
    if override is not None:
        return override
    raw = os.environ.get(setting.env)
    if raw is None or raw == "":
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ValueError(f"{setting.env}={raw!r} is not a valid {setting.name}: {exc}") from exc

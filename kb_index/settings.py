"""Settings of kb_index, kept as data: each has a default, an environment variable
and a one-line help.  ``docs/kb_index.md`` lists every one (a test checks).

Precedence: code default < environment variable < explicit argument.
"""

from __future__ import annotations

from care_settings import KB_INDEX_DIR, KB_SOURCE_DIR, Setting, by_name

# Chosen by `python -m kb_index eval --hint3 ../shared/data/hint3` on data/eval: the highest
# share of in-scope questions answered correctly with at most 3% of out-of-scope messages
# answered (our 107 plus HINT3's 1,350 real ones), for the default confidence_score "fused"
# and the confidence of issue 16's fourth round (with the query's word shares; 0.543 before,
# same scale). Whole set: 86.0% answered correctly at 2.9%; the same choice cross-validated
# (5x5 folds, the figure to expect on new questions): 85.7% answered correctly, 3.0% of
# out-of-scope messages answered.
DEFAULT_ANSWER_THRESHOLD = 0.536

SETTINGS: tuple[Setting, ...] = (
    KB_SOURCE_DIR,  # declared in care_settings: the service reads them too
    KB_INDEX_DIR,
    Setting("embedding_model", "CARE_EMBEDDING_MODEL", None,
            "Folder of a sentence-transformers model; default: the packaged all-MiniLM-L6-v2.", str),
    Setting("embedding_runtime", "CARE_EMBEDDING_RUNTIME", "auto",
            "auto: the model's ONNX conversion when built (else sentence-transformers); onnx; torch.", str),
    Setting("embedding_onnx_dir", "CARE_EMBEDDING_ONNX_DIR", "var/embedding_onnx",
            "Folder of the embedding model's ONNX conversions, one per model; every KB index build "
            "(CLI, service or worker) makes it, in a child process.", str),
    Setting("answer_threshold", "CARE_KB_ANSWER_THRESHOLD", DEFAULT_ANSWER_THRESHOLD,
            "Minimum confidence of the best hit for a search to count as answerable.", float),
    Setting("confidence_score", "CARE_KB_CONFIDENCE_SCORE", "fused",
            "Score the answer confidence starts from: fused (the ranking's article score) or weighted; "
            "`eval` measures both.", str),
    Setting("hnsw_threshold", "CARE_KB_HNSW_THRESHOLD", 50_000,
            "Number of chunks from which the vector index is HNSW instead of exact (flat).", int),
    Setting("hnsw_ef_search", "CARE_KB_HNSW_EF_SEARCH", 128,
            "HNSW search breadth (efSearch); higher is slower and more exact.", int),
    Setting("ivf_threshold", "CARE_KB_IVF_THRESHOLD", 200_000,
            "Number of chunks from which the vector index is IVF-PQ with exact re-ranking instead of HNSW.", int),
    Setting("ivf_nprobe", "CARE_KB_IVF_NPROBE", 128,
            "IVF lists searched per query (nprobe); higher is slower and more exact.", int),
    Setting("max_query_chars", "CARE_KB_MAX_QUERY_CHARS", 1000,
            "Longest query accepted, in characters; longer ones raise QueryError.", int),
    Setting("chunk_chars", "CARE_KB_CHUNK_CHARS", 900,
            "Target size of a chunk in characters (sections longer than this are split).", int),
    Setting("chunk_overlap", "CARE_KB_CHUNK_OVERLAP", 150,
            "Characters shared by consecutive chunks of one long section.", int),
)

_BY_NAME = by_name(SETTINGS)


def get(name: str, override: object = None) -> object:
    """Value of setting ``name``: ``override`` if given, else its env var, else the default."""
    return _BY_NAME[name].value(override=override)

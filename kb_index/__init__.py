"""Knowledge-base index: hybrid (BM25 + dense) retrieval over the KB articles.

    import kb_index
    index = kb_index.open_index("var/kb_index", source_dir="data/kb")
    result = index.search("reset password", k=5, audience="public")
    result.answerable, result.hits

Importing this package loads no model and reads no file; see docs/kb_index.md.
"""

import os

# FAISS and torch each bring an OpenMP runtime whose idle threads spin by default; on a
# small machine the two then steal each other's cores and a 13 ms query embedding takes
# 100-500 ms (measured, docs/kb_index.md).  Passive waiting must be chosen before the
# runtimes load, so it is set here, unless the environment already chose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .articles import Article, load_article, load_articles, parse_article  # noqa: E402
from .building import BuildReport, build, is_stale, open_index  # noqa: E402
from .embedding import Embedder, FakeEmbedder  # noqa: E402
from .errors import ArticleError, IndexCorrupt, IndexIncompatible, KBError, QueryError  # noqa: E402
from .index import Index  # noqa: E402
from .search import Hit, SearchResult  # noqa: E402

__all__ = [
    "Article", "ArticleError", "BuildReport", "Embedder", "FakeEmbedder", "Hit", "Index",
    "IndexCorrupt", "IndexIncompatible", "KBError", "QueryError", "SearchResult", "build",
    "is_stale", "load_article", "load_articles", "open_index", "parse_article",
]

"""Knowledge-base index: hybrid (BM25 + dense) retrieval over the KB articles.

    import kb_index
    index = kb_index.open_index("var/kb_index", source_dir="data/kb")
    result = index.search("reset password", k=5, audience="public")
    result.answerable, result.hits

Importing this package loads no model, reads no file and changes no environment variable; see
docs/kb_index.md. Run it with ``OMP_WAIT_POLICY=PASSIVE`` (the Makefile and ``make run``'s
supervisor set it at process start): FAISS and torch each bring an OpenMP runtime whose idle
threads otherwise spin, and on a small machine a 13 ms query embedding then takes 100-500 ms.
"""

from .articles import Article, load_article, load_articles, parse_article
from .building import BuildReport, build, is_stale, open_index
from .embedding import Embedder, FakeEmbedder
from .errors import ArticleError, IndexCorrupt, IndexIncompatible, KBError, QueryError
from .index import Index
from .search import Hit, SearchResult

__all__ = [
    "Article", "ArticleError", "BuildReport", "Embedder", "FakeEmbedder", "Hit", "Index",
    "IndexCorrupt", "IndexIncompatible", "KBError", "QueryError", "SearchResult", "build",
    "is_stale", "load_article", "load_articles", "open_index", "parse_article",
]

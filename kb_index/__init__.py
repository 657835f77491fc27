"""Knowledge-base index: hybrid (BM25 + dense) retrieval over the KB articles.

    import kb_index
    index = kb_index.open_index("var/kb_index", source_dir="data/kb")
    result = index.search("reset password", k=5, audience="public")
    result.answerable, result.hits

Importing this package loads no model and reads no file; see docs/kb_index.md.
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

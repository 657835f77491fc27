"""The loaded KB index: articles, chunks, FAISS vectors and BM25, searched together.

Thread safety: searches and changes may come from any thread.  Writers
(:meth:`Index.upsert_article`, :meth:`Index.delete_article`) are serialised by one
lock and do the slow parts (embedding, rebuilding BM25, writing files) without
blocking searches; the in-memory switch to the new state happens under a second,
short lock that searches also take.  A change is searchable as soon as the call
returns, and it is on disk by then too (when the index has a folder).
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import manifest as manifest_file
from . import settings
from .articles import Article
from .bm25 import KeywordIndex, tokenize
from .chunking import Chunk, chunk_article
from .errors import IndexCorrupt, KBError
from .spelling import Speller
from .search import (CONFIDENCE_SCORES, DEFAULT_FUSION, Hit, RankedArticle, SearchResult,
                     candidate_depth, confidence, fuse, snippet, validate, word_evidence)
from .sections import (NO_WORDS, Evidence, Section, Words, article_sections, asks_how, heading_match,
                       is_procedure, make_section, question_support, words)
from .store import VectorStore

log = logging.getLogger(__name__)
COMPACT_RATIO = 0.25   # rebuild the vector store once this share of rows are tombstones


def _article_terms(keyword: KeywordIndex, rows: np.ndarray,
                   row_article: list[str | None]) -> dict[str, frozenset[str]]:
    """Every word (as BM25 tokenizes) of each article's chunks, for the confidence."""
    terms: dict[str, set[str]] = {}
    for doc, row in enumerate(rows.tolist()):
        if row_article[row] is not None:
            terms.setdefault(row_article[row], set()).update(keyword.doc_terms[doc])
    return {article_id: frozenset(words) for article_id, words in terms.items()}


class Index:
    """Use :func:`kb_index.open_index` or :func:`kb_index.build` rather than this directly."""

    def __init__(self, index_dir: Path | None, embedder, store: VectorStore,
                 articles: dict[str, Article], row_chunks: list[Chunk | None],
                 sections: np.ndarray, *,
                 answer_threshold: float | None = None, fusion: str = DEFAULT_FUSION,
                 confidence_score: str | None = None,
                 chunk_chars: int | None = None, chunk_overlap: int | None = None) -> None:
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.embedder = embedder
        self.answer_threshold = float(settings.get("answer_threshold", answer_threshold))
        self.fusion = fusion
        self.confidence_score = str(settings.get("confidence_score", confidence_score))
        if self.confidence_score not in CONFIDENCE_SCORES:
            raise KBError(f"confidence_score must be one of {', '.join(CONFIDENCE_SCORES)}, "
                          f"got {self.confidence_score!r}")
        self.chunk_chars = int(settings.get("chunk_chars", chunk_chars))
        self.chunk_overlap = int(settings.get("chunk_overlap", chunk_overlap))
        self.max_query_chars = int(settings.get("max_query_chars"))
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._generation: int | None = None     # of the files this state was loaded from
        self._set_state(store, dict(articles), list(row_chunks), sections)

    # ---- state ----------------------------------------------------------------------

    def _set_state(self, store: VectorStore, articles: dict[str, Article],
                   row_chunks: list[Chunk | None], sections: np.ndarray,
                   keyword: tuple | None = None, add: np.ndarray | None = None) -> None:
        """Switch to a new state; ``add`` vectors are appended to ``store`` in the same
        locked step, so no search ever sees the store and the tables disagree.
        ``sections``: each row's section vector (:func:`embed_chunks`), ``add``'s included."""
        adding = 0 if add is None else len(add)
        if store.n_rows + adding != len(row_chunks) or len(sections) != len(row_chunks):
            raise IndexCorrupt(f"vector index has {store.n_rows + adding} rows, section vectors "
                               f"{len(sections)}, chunk table {len(row_chunks)}")
        row_article = [c.article_id if c is not None else None for c in row_chunks]
        internal = np.array([a is not None and articles[a].audience == "internal"
                             for a in row_article], dtype=bool)
        employee = np.array([a is not None and articles[a].audience == "employee"
                             for a in row_article], dtype=bool)
        alive = np.array([a is not None for a in row_article], dtype=bool)
        questions: set[int] = set()
        first_section: dict[str, int] = {}  # the snippet when only an article's questions matched
        section_rows: dict[str, list[int]] = {}   # each article's chunks of text, in order
        answered_rows: dict[str, list[int]] = {}  # its questions that name their section
        article_rows: dict[str, list[int]] = {}   # all its chunks (the article's vector)
        for i, c in enumerate(row_chunks):
            if c is not None:
                article_rows.setdefault(c.article_id, []).append(i)
            if c is not None and c.kind == "question":
                questions.add(i)
                if c.heading:
                    answered_rows.setdefault(c.article_id, []).append(i)
            elif c is not None:
                first_section.setdefault(c.article_id, i)
                section_rows.setdefault(c.article_id, []).append(i)
        question_rows = frozenset(questions)
        keyword = keyword or self._keyword_for(articles, row_chunks)
        with self._lock:
            if add is not None:
                store.add(add)
            self._store, self._articles, self._row_chunks = store, articles, row_chunks
            self._sections = sections
            self._row_article, self._internal, self._alive = row_article, internal, alive
            self._employee = employee
            self._question_rows, self._first_section = question_rows, first_section
            self._section_rows, self._answered_rows = section_rows, answered_rows
            self._article_rows, self._article_vectors = article_rows, {}  # filled on first use
            self._keyword, self._keyword_rows, self._speller = keyword
            self._article_terms = _article_terms(keyword[0], keyword[1], row_article)

    @staticmethod
    def _keyword_for(articles: dict[str, Article], row_chunks: list[Chunk | None]) -> tuple:
        rows = np.array([i for i, c in enumerate(row_chunks) if c is not None], dtype=np.int64)
        texts = [row_chunks[i].embed_text(articles[row_chunks[i].article_id]) for i in rows]
        return KeywordIndex(texts), rows, Speller.from_texts(texts)

    @property
    def index_type(self) -> str:
        return self._store.kind

    @property
    def dimension(self) -> int:
        return self._store.dimension

    def chunks_of(self, article_ids: set[str]) -> tuple[list[Chunk], np.ndarray, np.ndarray]:
        """The live chunks of ``article_ids``, their vectors and their section vectors
        (for incremental builds)."""
        with self._lock:
            rows = [i for i, c in enumerate(self._row_chunks)
                    if c is not None and c.article_id in article_ids]
            return ([self._row_chunks[i] for i in rows], self._store.all_vectors()[rows],
                    self._sections[rows])

    def __len__(self) -> int:
        return len(self._articles)

    def article_ids(self) -> list[str]:
        return sorted(self._articles)

    def get_article(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    def warm_up(self) -> None:
        """Load the embedding model now rather than on the first search."""
        self.embedder.encode(["warm up"])

    # ---- searching ------------------------------------------------------------------

    def search(self, query: str, k: int = 5, audience: str = "public", *,
               method: str = "hybrid", context: str | None = None) -> SearchResult:
        """The ``k`` best articles for ``query`` that ``audience`` may see (public
        searches see public articles only; internal ones see both).  Each hit carries
        the section of its article that answers ``query`` best (:attr:`Hit.section`).

        ``context``: the customer's previous question, when ``query`` follows up on it
        ("and if I no longer have that email?").  Articles are ranked for both texts
        together; the section is chosen for ``query`` alone, so a follow-up can land
        on another section of the same article."""
        query = validate(query, k, audience, self.max_query_chars)
        if context is not None and str(context).strip():
            context = validate(context, k, audience, self.max_query_chars)
            ranked_query, vector, section_vector = self._prepare_pair(f"{context} {query}", query, method)
            section_query = self.correct(query)
        else:
            ranked_query, vector = self._prepare(query, method)
            section_vector, section_query = vector, ranked_query
        with self._lock:
            ranked = self._ranked(ranked_query, vector, k, audience, method)
            asked = (asks_how(query), words(section_query))
            hits = [self._hit(r, section_vector, asked) for r in ranked[:k]]
        best = confidence(ranked[0] if ranked else None, self.confidence_score)
        return SearchResult(hits, bool(hits) and best >= self.answer_threshold, best)

    def _prepare_pair(self, combined: str, alone: str, method: str
                      ) -> tuple[str, np.ndarray | None, np.ndarray | None]:
        """Corrected ``combined``, its vector and the vector of ``alone``: one batch."""
        combined, alone = self.correct(combined), self.correct(alone)
        if method == "bm25":
            return combined, None, None
        vectors = self.embedder.encode([combined, alone])
        return combined, vectors[0], vectors[1]

    def rank(self, query: str, k: int = 5, audience: str = "public", *, method: str = "hybrid",
             vector: np.ndarray | None = None, fusion: str | None = None) -> list[RankedArticle]:
        """Every candidate article, best first (for evaluation).  ``vector``: the
        embedding of ``correct(query)``, if already computed."""
        if vector is None:
            query, vector = self._prepare(query, method)
        else:
            query = self.correct(query)
        with self._lock:
            return self._ranked(query, vector, k, audience, method, fusion)

    def shown_section(self, ranked: RankedArticle, query: str,
                      vector: np.ndarray | None) -> Section:
        """The section :meth:`search` would show for ``ranked`` (from :meth:`rank`),
        ``vector`` being the embedding of ``correct(query)`` (for evaluation)."""
        asked = (asks_how(query), words(self.correct(query)))
        with self._lock:
            return self._section(ranked, vector, asked)

    def section_evidence(self, ranked: RankedArticle, query: str,
                         vector: np.ndarray | None) -> Evidence | None:
        """What :meth:`shown_section` chooses from, to try other weights (for evaluation)."""
        asked = (asks_how(query), words(self.correct(query)))
        with self._lock:
            return self._evidence(ranked, vector, asked,
                                  dict(reversed(article_sections(self._articles[ranked.article_id]))))

    def _allowed(self, audience: str) -> np.ndarray:
        """Rows ``audience`` may read: internal (agents) all; employee all but internal; public
        neither internal nor employee articles."""
        if audience == "internal":
            return self._alive
        if audience == "employee":
            return self._alive & ~self._internal
        return self._alive & ~self._internal & ~self._employee

    def _prepare(self, query: str, method: str) -> tuple[str, np.ndarray | None]:
        query = self.correct(query)
        return query, (None if method == "bm25" else self.embedder.encode([query])[0])

    def _ranked(self, query: str, vector: np.ndarray | None, k: int, audience: str,
                method: str, fusion: str | None = None,
                allowed: np.ndarray | None = None) -> list[RankedArticle]:
        """Call with ``self._lock`` held.  ``allowed``: rows to search instead of the
        audience's (the self-search leaves chunks out)."""
        depth = candidate_depth(k)
        left_out = allowed          # rows the self-search leaves out count for no article
        if allowed is None:
            allowed = self._allowed(audience)
        dense = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        if vector is not None and method != "bm25":
            dense = self._store.search(vector, depth, allowed)
        kw_rows, kw_scores = self._keyword.top(query, depth, allowed[self._keyword_rows])
        keyword = (self._keyword_rows[kw_rows], kw_scores)
        articles = None
        if vector is not None and method == "hybrid":
            articles = _ArticleEvidence(self, np.asarray(vector, dtype=np.float32), left_out)
        ranked = fuse(dense, keyword, self._row_article, method, fusion or self.fusion,
                      question_rows=self._question_rows, articles=articles)
        if ranked:   # the words of the query that the first article has: its confidence
            terms = self._article_terms.get(ranked[0].article_id, frozenset())
            ranked[0].coverage, ranked[0].unknown = word_evidence(
                tokenize(query), terms, self._keyword.idf, self._keyword.knows)
        return ranked

    def correct(self, query: str) -> str:
        """``query`` with misspelt words replaced by words of the KB (see spelling.py)."""
        return self._speller.correct(query)

    def _hit(self, ranked: RankedArticle, vector: np.ndarray | None = None,
             asked: tuple[bool, Words] = (False, NO_WORDS)) -> Hit:
        article = self._articles[ranked.article_id]
        row = ranked.snippet_row if ranked.snippet_row is not None else \
            self._first_section.get(article.id, ranked.row)
        chunk = self._row_chunks[row]
        return Hit(article.id, article.title, article.url, snippet(chunk.text),
                   round(float(ranked.score), 6), article.audience,
                   self._section(ranked, vector, asked))

    def _section(self, ranked: RankedArticle, vector: np.ndarray | None,
                 asked: tuple[bool, Words]) -> Section:
        """The section of the hit's article to show (see sections.py).  Without a query
        vector (BM25 only), the section of the best-scoring candidate chunk.
        ``asked``: whether the query asks how, and its :func:`sections.words`.
        Call with ``self._lock`` held."""
        article = self._articles[ranked.article_id]
        sections = article_sections(article)
        markdown = dict(reversed(sections))          # heading -> text; the first of a repeat
        evidence = self._evidence(ranked, vector, asked, markdown)
        heading = evidence.choose() if evidence is not None else sections[0][0]
        return make_section(heading, markdown.get(heading, sections[0][1]))

    def _evidence(self, ranked: RankedArticle, vector: np.ndarray | None,
                  asked: tuple[bool, Words], markdown: dict[str, str]) -> Evidence | None:
        """What the section choice looks at (None for an article without text chunks).
        Call with ``self._lock`` held."""
        article = self._articles[ranked.article_id]
        rows = self._section_rows.get(article.id, [])
        if not rows:
            return None
        headings = [self._row_chunks[r].heading or article.title for r in rows]
        answered = self._answered_rows.get(article.id, [])
        if vector is not None:       # the section vectors, not the chunks' (docs/kb_index.md, "Answers")
            vector = np.asarray(vector, dtype=np.float32)
            cosine = self._sections[rows] @ vector
            similar = self._store.vectors(answered) @ vector
        else:
            cosine = np.zeros(len(rows), np.float32)
        keyword = np.array([ranked.keyword_rows.get(r, 0.0) for r in rows], dtype=np.float32)
        procedure = np.array([is_procedure(markdown.get(h, "")) for h in headings], dtype=np.float32)
        support = (question_support(similar,
                                    [self._row_chunks[r].heading for r in answered], headings)
                   if answered and vector is not None else np.zeros(len(rows), np.float32))
        intro = article.title if article.title in markdown else ""   # "": it has none
        how, query_words = asked
        return Evidence(headings, cosine, keyword, procedure, support, how, intro,
                        *heading_match(query_words, headings))

    # ---- changing -------------------------------------------------------------------

    def upsert_article(self, article: Article) -> None:
        """Add or replace one article; searchable and saved when this returns."""
        if not isinstance(article, Article):
            raise KBError(f"upsert_article takes an Article, got {type(article).__name__}")
        chunks = chunk_article(article, self.chunk_chars, self.chunk_overlap)
        vectors, sections = embed_chunks(self.embedder.encode, [(article, c) for c in chunks],
                                         self.dimension)
        with self._write_lock, self._folder_lock():
            self._reload_if_changed()
            self._change(article.id, article, chunks, vectors, sections)

    def delete_article(self, article_id: str) -> bool:
        """Remove an article; returns whether it was there."""
        with self._write_lock, self._folder_lock():
            self._reload_if_changed()
            if article_id not in self._articles:
                return False
            self._change(article_id, None, [], None, None)
            return True

    def refresh(self) -> bool:
        """Reload if another process (a build, another service worker) saved a newer
        version of the folder; returns whether it did.  Cheap when nothing changed."""
        if self.index_dir is None or manifest_file.generation(self.index_dir) == self._generation:
            return False
        with self._write_lock:
            return self._reload_if_changed()

    def _folder_lock(self):
        return manifest_file.folder_lock(self.index_dir) if self.index_dir else nullcontext()

    def _reload_if_changed(self) -> bool:
        """Call with the write lock held."""
        if self.index_dir is None or manifest_file.generation(self.index_dir) in (None, self._generation):
            return False
        other = Index.load(self.index_dir, self.embedder, answer_threshold=self.answer_threshold,
                           fusion=self.fusion, confidence_score=self.confidence_score)
        self._set_state(other._store, other._articles, other._row_chunks, other._sections,
                        keyword=(other._keyword, other._keyword_rows, other._speller))
        self._generation = other._generation
        log.info("%s: reloaded generation %s", self.index_dir, self._generation)
        return True

    def _change(self, article_id: str, article: Article | None, chunks: list[Chunk],
                vectors: np.ndarray | None, sections: np.ndarray | None) -> None:
        articles = dict(self._articles)
        row_chunks = [None if c is not None and c.article_id == article_id else c
                      for c in self._row_chunks]
        articles.pop(article_id, None)
        if article is not None:
            articles[article.id] = article
            row_chunks.extend(chunks)
        dead = sum(c is None for c in row_chunks)
        new_sections = [sections] if sections is not None else []
        if dead > COMPACT_RATIO * len(row_chunks):
            live = [i for i, c in enumerate(row_chunks) if c is not None and i < self._store.n_rows]
            old = self._store.all_vectors()[live]
            parts = [old] + ([vectors] if vectors is not None else [])
            store = VectorStore.from_vectors(np.vstack(parts), self._store.dimension,
                                             self._store.hnsw_threshold, self._store.ef_search)
            row_chunks = [c for c in row_chunks if c is not None]
            self._set_state(store, articles, row_chunks, np.vstack([self._sections[live], *new_sections]))
        else:
            self._set_state(self._store, articles, row_chunks,
                            np.vstack([self._sections, *new_sections]), add=vectors)
        self.save()

    # ---- files ----------------------------------------------------------------------

    def manifest_data(self) -> dict:
        return {
            "model": self.embedder.name,
            "dimension": self._store.dimension,
            "index_type": self._store.kind,
            "chunking": {"chunk_chars": self.chunk_chars, "chunk_overlap": self.chunk_overlap},
            "articles": {a.id: {"hash": a.content_hash(), "audience": a.audience,
                                "source": a.source} for a in self._articles.values()},
            "counts": {"articles": len(self._articles), "rows": self._store.n_rows,
                       "live_chunks": int(self._alive.sum())},
        }

    def save(self) -> None:
        """Write the index folder (a no-op for an index without one).  Callers hold
        the folder lock (``upsert``/``delete`` and ``build`` do)."""
        if self.index_dir is None:
            return
        articles, row_chunks, store, sections = self._articles, self._row_chunks, self._store, self._sections

        def write_articles(path: Path) -> None:
            with open(path, "w", encoding="utf-8") as out:
                for article in sorted(articles.values(), key=lambda a: a.id):
                    out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")

        def write_chunks(path: Path) -> None:
            with open(path, "w", encoding="utf-8") as out:
                for chunk in row_chunks:
                    record = {"deleted": True} if chunk is None else asdict(chunk)
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")

        written = manifest_file.write(self.index_dir, self.manifest_data(),
                                      {"articles": write_articles, "chunks": write_chunks,
                                       "vectors": store.save,
                                       "sections": lambda path: _save_array(path, sections)})
        self._generation = written["generation"]

    @classmethod
    def load(cls, index_dir: Path, embedder, **options) -> Index:
        """Load a saved index; :class:`IndexCorrupt` / :class:`IndexIncompatible` if unusable."""
        index_dir = Path(index_dir)
        data = manifest_file.read(index_dir)
        manifest_file.check_compatible(data, embedder.name, index_dir)
        paths = data["paths"]
        try:
            articles = {}
            for line in paths["articles"].read_text(encoding="utf-8").splitlines():
                article = Article.from_dict(json.loads(line))
                articles[article.id] = article
            row_chunks = [None if r.get("deleted") else Chunk(**r) for r in
                          map(json.loads, paths["chunks"].read_text(encoding="utf-8").splitlines())]
            store = VectorStore.load(paths["vectors"], int(data["dimension"]),
                                     int(settings.get("hnsw_threshold")),
                                     int(settings.get("hnsw_ef_search")))
            sections = np.load(paths["sections"], allow_pickle=False)
            if sections.dtype != np.float32 or sections.shape != (len(row_chunks), store.dimension):
                raise IndexCorrupt(f"section vectors of shape {sections.shape} ({sections.dtype}) "
                                   f"for {len(row_chunks)} rows of dimension {store.dimension}")
        except (ValueError, TypeError, KeyError, RuntimeError, OSError, KBError) as exc:
            raise IndexCorrupt(f"{index_dir}: cannot read the index files ({exc})") from exc
        expected = {a: e["hash"] for a, e in data["articles"].items()}
        if {a.id: a.content_hash() for a in articles.values()} != expected:
            raise IndexCorrupt(f"{index_dir}: articles file does not match the manifest")
        if any(c is not None and c.article_id not in articles for c in row_chunks):
            raise IndexCorrupt(f"{index_dir}: chunk of an article that is not in the index")
        chunking = data.get("chunking", {})
        options.setdefault("chunk_chars", chunking.get("chunk_chars"))
        options.setdefault("chunk_overlap", chunking.get("chunk_overlap"))
        index = cls(index_dir, embedder, store, articles, row_chunks, sections, **options)
        index._generation = data.get("generation")
        return index


def embed_chunks(encode, pairs: list[tuple[Article, Chunk]], dimension: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of ``pairs``' chunks (:meth:`Chunk.embed_text`) and their section vectors
    (:meth:`Chunk.section_text`; zeros for questions), from one ``encode`` of both lists."""
    texts = [c.embed_text(a) for a, c in pairs]
    section_texts = [(i, c.section_text(a)) for i, (a, c) in enumerate(pairs)]
    section_texts = [(i, t) for i, t in section_texts if t is not None]
    if not pairs:
        empty = np.zeros((0, dimension), dtype=np.float32)
        return empty, empty.copy()
    vectors = np.asarray(encode(texts + [t for _, t in section_texts]), dtype=np.float32)
    sections = np.zeros((len(pairs), vectors.shape[1]), dtype=np.float32)
    sections[[i for i, _ in section_texts]] = vectors[len(pairs):]
    return vectors[: len(pairs)], sections


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as out:       # np.save(path) would add ".npy" to another name
        np.save(out, array, allow_pickle=False)


class _ArticleEvidence:
    """The whole articles, as the fusion sees them (search.ArticleEvidence): how many
    chunks each has and the query's cosine with its vector, the unit mean of its chunks'
    vectors (questions included), kept per article until the index changes; counted over
    the ``allowed`` rows only when given (the self-search leaves chunks out).  Use with
    the index's ``_lock`` held."""

    def __init__(self, index: Index, vector: np.ndarray, allowed: np.ndarray | None) -> None:
        self._index, self._vector, self._allowed = index, vector, allowed

    def _rows(self, article_id: str) -> list[int]:
        rows = self._index._article_rows.get(article_id, [])
        return rows if self._allowed is None else [r for r in rows if self._allowed[r]]

    def chunks(self, article_id: str) -> int:
        return len(self._rows(article_id))

    def cosine(self, article_id: str) -> float:
        if self._allowed is not None:
            return float(_unit_mean(self._index._store.vectors(self._rows(article_id))) @ self._vector)
        means = self._index._article_vectors
        mean = means.get(article_id)
        if mean is None:
            mean = means[article_id] = _unit_mean(self._index._store.vectors(self._rows(article_id)))
        return float(mean @ self._vector)


def _unit_mean(vectors: np.ndarray) -> np.ndarray:
    """The mean of ``vectors`` scaled to unit length (zeros when there are none)."""
    if not len(vectors):
        return np.zeros(vectors.shape[1], dtype=np.float32)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean

"""The two entry points that touch an index folder: :func:`build` and :func:`open_index`,
plus :func:`is_stale`.

``build`` is incremental: an article whose content hash is in the manifest keeps its
vectors; only new and changed articles are chunked and embedded.  Articles that were
added with ``upsert_article`` (they have no source file) are kept; articles whose
source file is gone are removed.  A different embedding model, format version or
chunking setting, or a corrupt folder, means a full rebuild.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import embedding as embedding_module
from . import manifest as manifest_file
from . import settings
from .articles import Article, load_articles
from .chunking import Chunk, chunk_article
from .embedding import Embedder
from .errors import IndexCorrupt, IndexIncompatible
from .index import Index, embed_chunks
from .store import VectorStore

log = logging.getLogger(__name__)
EMBED_BATCH = 128
CONVERT_TIMEOUT = 900  # seconds for the ONNX export in its child process (a few on an idle machine)


@dataclass(frozen=True)
class BuildReport:
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    chunks_embedded: int
    chunks_total: int
    index_type: str
    full_rebuild: bool
    seconds: float

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def build(source_dir: str | Path, index_dir: str | Path, embedder=None, *,
          show_progress: bool = False, **options) -> BuildReport:
    """Bring ``index_dir`` up to date with the articles in ``source_dir``.

    Like every build path, it first converts the embedding model to ONNX (:func:`_prepare`)."""
    embedder = embedder or Embedder()
    return _build(Path(source_dir), Path(index_dir), embedder, show_progress, options)[1]


def open_index(index_dir: str | Path, *, source_dir: str | Path | None = None, embedder=None,
               show_progress: bool = False, **options) -> Index:
    """Load the index in ``index_dir`` (FAISS, BM25 and manifest, once).

    With ``source_dir``, a missing, stale, corrupt or incompatible index is first
    rebuilt from it; without, those raise :class:`IndexCorrupt` or
    :class:`IndexIncompatible`.  ``options``: ``answer_threshold``, ``fusion``, ``confidence_score``."""
    embedder = embedder or Embedder()
    if source_dir is not None:
        return _build(Path(source_dir), Path(index_dir), embedder, show_progress, options)[0]
    return Index.load(Path(index_dir), embedder, **options)


def is_stale(source_dir: str | Path, index_dir: str | Path, embedder=None) -> bool:
    """Whether ``build`` would change ``index_dir``: missing, corrupt, another model
    or chunking, or source articles added, changed or removed."""
    embedder = embedder or Embedder()
    try:
        data = manifest_file.read(Path(index_dir))
        manifest_file.check_compatible(data, embedder.name, Path(index_dir))
    except (IndexCorrupt, IndexIncompatible):
        return True
    if data.get("chunking") != _chunking({}):
        return True
    indexed = {a: e["hash"] for a, e in data["articles"].items() if e.get("source")}
    current = {a.id: a.content_hash() for a in load_articles(source_dir)}
    return indexed != current


def build_articles(articles: list[Article], index_dir: str | Path, embedder=None, *,
                   show_progress: bool = False, **options) -> tuple[Index, BuildReport]:
    """Build or update ``index_dir`` from ``articles`` already in memory (for example an
    FAQ imported without its question lists, as ``python -m kb_index eval`` does);
    incremental like :func:`build`."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or Embedder()
    with manifest_file.folder_lock(index_dir):
        return _build_locked(list(articles), index_dir, embedder, show_progress, options)


def _chunking(options: dict) -> dict:
    return {"chunk_chars": int(settings.get("chunk_chars", options.get("chunk_chars"))),
            "chunk_overlap": int(settings.get("chunk_overlap", options.get("chunk_overlap")))}


def _build(source_dir: Path, index_dir: Path, embedder, show_progress: bool,
           options: dict) -> tuple[Index, BuildReport]:
    articles = load_articles(source_dir)      # invalid articles fail before any lock or write
    with manifest_file.folder_lock(index_dir):
        return _build_locked(articles, index_dir, embedder, show_progress, options)


def _prepare(embedder) -> None:
    """Convert the embedding model to ONNX once per model (cached by the model's hash), so the
    process that built the index (``python -m kb_index build``, the service or the worker
    rebuilding a missing, stale or corrupt one through ``open_index(source_dir=...)``,
    ``build_articles``) and the ones that serve it embed without torch.

    A real :class:`Embedder` converts in a child process (:func:`_convert_in_child`): the export
    needs torch, and imported here it would stay in a long-lived service process (measured after
    a rebuild of data/kb: 1167 MB RSS with the export in-process, 814 MB with it in a child). A failed conversion is logged and the build goes on
    with torch, unless ``CARE_EMBEDDING_RUNTIME=onnx`` demands it. Other embedders convert
    in-process (``prepare``), or have nothing to convert (FakeEmbedder)."""
    try:
        # the module's class, not the name here, which tests replace with FakeEmbedder
        if isinstance(embedder, embedding_module.Embedder):
            if embedder.runtime == "torch":
                return
            target = embedder.onnx_file()
            if target is not None and not target.is_file():
                _convert_in_child(embedder, target)
            return
        prepare = getattr(embedder, "prepare", None)
        if prepare is not None:
            prepare()
    except OSError as exc:  # an unreadable model folder: the embedding reports it when it is used
        if getattr(embedder, "runtime", None) == "onnx":
            raise
        log.warning("embedding model not converted to ONNX (%s)", exc)


_CONVERT = ("import sys; from kb_index.embedding import Embedder; "
            "Embedder(model_path=sys.argv[1] or None, runtime=sys.argv[2], onnx_dir=sys.argv[3]).prepare()")


def _convert_in_child(embedder: Embedder, target: Path) -> None:
    """``embedder.prepare()`` in a fresh interpreter; raises only where the runtime is ``onnx``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")) if p)}
    args = [sys.executable, "-c", _CONVERT, str(embedder.model_path or ""), embedder.runtime, str(embedder.onnx_dir)]
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CONVERT_TIMEOUT)
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    except (OSError, subprocess.TimeoutExpired) as exc:
        detail = str(exc)
    if target.is_file():
        return
    message = f"embedding model not converted to ONNX ({detail}); sentence-transformers is used"
    if embedder.runtime == "onnx":
        raise RuntimeError(message)
    log.warning("%s", message)


def _build_locked(articles: list[Article], index_dir: Path, embedder, show_progress: bool,
                  options: dict) -> tuple[Index, BuildReport]:
    _prepare(embedder)   # every build path comes here, before anything is embedded (not timed)
    started = time.perf_counter()
    chunking = _chunking(options)
    index_options = {k: v for k, v in options.items() if k in ("answer_threshold", "fusion", "confidence_score")}
    old = None
    try:
        old = Index.load(index_dir, embedder, **index_options)
        if old.manifest_data()["chunking"] != chunking:
            log.warning("%s: chunking settings changed, rebuilding in full", index_dir)
            old = None
    except IndexCorrupt as exc:
        if (index_dir / manifest_file.MANIFEST).exists():
            log.warning("index unusable, rebuilding in full: %s", exc)
    except IndexIncompatible as exc:
        log.warning("rebuilding in full: %s", exc)

    kept: dict[str, Article] = {}
    if old is not None:
        source_ids = {a.id for a in articles}
        for article_id in old.article_ids():
            previous = old.get_article(article_id)
            if previous.source is None and article_id not in source_ids:
                kept[article_id] = previous     # upserted through the API: keep it
        current = {a.id: a for a in articles}
        for article_id in old.article_ids():
            previous = old.get_article(article_id)
            if article_id in current and previous.content_hash() == current[article_id].content_hash():
                kept[article_id] = current[article_id]   # same content (source path may move)
    old_ids = set(old.article_ids()) if old is not None else set()
    todo = [a for a in articles if a.id not in kept]
    report_lists = {"added": sorted(a.id for a in todo if a.id not in old_ids),
                    "changed": sorted(a.id for a in todo if a.id in old_ids),
                    "removed": sorted(old_ids - kept.keys() - {a.id for a in todo})}

    if old is not None and not todo and not report_lists["removed"]:
        return old, _report(report_lists, len(kept), 0, old, False, started)

    row_chunks: list[Chunk] = []
    parts: list[tuple[np.ndarray, np.ndarray]] = []     # (chunk vectors, section vectors)
    if old is not None and kept:
        reused, *reused_vectors = old.chunks_of(set(kept))
        row_chunks.extend(reused)
        parts.append(tuple(reused_vectors))
    new_chunks = [(a, c) for a in todo for c in chunk_article(a, **chunking)]
    dimension = old.dimension if old else embedder.dimension
    if new_chunks:
        parts.append(embed_chunks(lambda texts: _embed(embedder, texts, show_progress), new_chunks,
                                  dimension))
        row_chunks.extend(c for _, c in new_chunks)
    dimension = parts[0][0].shape[1] if parts else dimension
    vectors, sections = ((np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])) if parts
                         else (np.zeros((0, dimension), dtype=np.float32),) * 2)
    store = VectorStore.from_vectors(vectors, dimension, int(settings.get("hnsw_threshold")),
                                     int(settings.get("hnsw_ef_search")))
    all_articles = {**kept, **{a.id: a for a in todo}}
    index = Index(index_dir, embedder, store, all_articles, row_chunks, sections,
                  **index_options, **chunking)
    index.save()
    log.info("built %s: %d articles, %d chunks (%d embedded, %d reused)", index_dir,
             len(all_articles), len(row_chunks), len(new_chunks), len(row_chunks) - len(new_chunks))
    return index, _report(report_lists, len(kept), len(new_chunks), index, old is None, started)


def _embed(embedder, texts: list[str], show_progress: bool) -> np.ndarray:
    out = []
    with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not show_progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            out.append(embedder.encode(batch))
            bar.update(len(batch))
    return np.vstack(out)


def _report(lists: dict, unchanged: int, embedded: int, index: Index, full: bool,
            started: float) -> BuildReport:
    return BuildReport(lists["added"], lists["changed"], lists["removed"], unchanged, embedded,
                       int(index.manifest_data()["counts"]["live_chunks"]), index.index_type,
                       full, round(time.perf_counter() - started, 3))

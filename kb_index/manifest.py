"""The index folder on disk and its ``manifest.json``.

Layout of an index folder::

    manifest.json          what is in the folder (below), written last, atomically
    articles.<gen>.jsonl   every indexed article (source files and upserted ones)
    chunks.<gen>.jsonl     one line per FAISS row: article id, position, heading, text
    vectors.<gen>.faiss    the FAISS index (faiss.write_index)
    sections.<gen>.npy     one section vector per FAISS row (zeros for questions and deleted rows)

Each save writes a new generation ``<gen>`` of the data files, then replaces the
manifest (``os.replace``), then removes the older generation: a crash mid-save leaves
the previous, complete index in place.  The manifest records the format version,
embedding model, dimension, index type, chunking settings, the content hash of every
article, and the SHA-256 of every data file; :func:`read` checks them all and raises
:class:`IndexCorrupt` on any mismatch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import IndexCorrupt, IndexIncompatible

FORMAT_VERSION = 2      # 2: the sections file
MANIFEST = "manifest.json"
ROLES = {"articles": "jsonl", "chunks": "jsonl", "vectors": "faiss", "sections": "npy"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read(index_dir: Path, verify: bool = True) -> dict:
    """The manifest of ``index_dir``, with every data file checked against it.

    ``manifest["paths"]`` maps each role (articles, chunks, vectors) to its file."""
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexCorrupt(f"{index_dir}: no {MANIFEST}; build the index with "
                           "`python -m kb_index build`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{path}: unreadable manifest ({exc})") from exc
    required = ("format_version", "model", "dimension", "index_type", "articles", "files")
    if not isinstance(manifest, dict) or any(key not in manifest for key in required):
        raise IndexCorrupt(f"{path}: manifest lacks one of {', '.join(required)}")
    _check_format(manifest, index_dir)   # an older format lacks files of this one: not corrupt
    paths = {}
    for role in ROLES:
        entry = manifest["files"].get(role)
        if not isinstance(entry, dict) or "name" not in entry or "sha256" not in entry:
            raise IndexCorrupt(f"{path}: manifest has no entry for the {role} file")
        file = index_dir / entry["name"]
        if not file.is_file():
            raise IndexCorrupt(f"{file}: listed in the manifest but missing")
        if verify and sha256_file(file) != entry["sha256"]:
            raise IndexCorrupt(f"{file}: checksum does not match the manifest "
                               "(the file was changed or truncated)")
        paths[role] = file
    manifest["paths"] = paths
    return manifest


def check_compatible(manifest: dict, model_name: str, where: Path) -> None:
    """:class:`IndexIncompatible` unless the index has this format and model."""
    _check_format(manifest, where)
    if manifest["model"] != model_name:
        raise IndexIncompatible(f"{where}: built with model {manifest['model']!r}, the configured "
                                f"model is {model_name!r}; rebuild it")


def _check_format(manifest: dict, where: Path) -> None:
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexIncompatible(f"{where}: index format {manifest['format_version']}, this code "
                                f"reads format {FORMAT_VERSION}; rebuild it")


def write(index_dir: Path, manifest: dict, writers: dict[str, Callable[[Path], None]]) -> dict:
    """Write a new generation of data files with ``writers[role](path)``, then the
    manifest, then remove files of older generations.  Returns the manifest written."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    generation = _next_generation(index_dir)
    files = {}
    for role, ext in ROLES.items():
        name = f"{role}.{generation}.{ext}"
        writers[role](index_dir / name)
        files[role] = {"name": name, "sha256": sha256_file(index_dir / name)}
    data = {k: v for k, v in manifest.items() if k != "paths"}
    data.update(format_version=FORMAT_VERSION, generation=generation, files=files)
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / MANIFEST)
    keep = {entry["name"] for entry in files.values()}
    for role, ext in ROLES.items():
        for old in index_dir.glob(f"{role}.*.{ext}"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    data["paths"] = {role: index_dir / entry["name"] for role, entry in files.items()}
    return data


def generation(index_dir: Path) -> int | None:
    """The generation number in the manifest (cheap: no checksums), or ``None``."""
    try:
        data = json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8"))
        return int(data["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def folder_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock on the folder across processes (``fcntl.flock`` on ``.lock``),
    held while a writer reads the current generation, changes it and saves."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _next_generation(index_dir: Path) -> int:
    highest = 0
    for role, ext in ROLES.items():
        for file in index_dir.glob(f"{role}.*.{ext}"):
            middle = file.name[len(role) + 1: -len(ext) - 1]
            if middle.isdigit():
                highest = max(highest, int(middle))
    return highest + 1

"""build / open_index / is_stale: the manifest, incremental rebuilds, corrupt folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb_index import (Article, Embedder, FakeEmbedder, IndexCorrupt, IndexIncompatible, build, is_stale,
                      load_articles, open_index)
from kb_index import manifest as manifest_file
from kb_index import building
from kb_index.building import build_articles

from .conftest import ARTICLES


def test_build_writes_manifest(kb_dir, index_dir, embedder):
    report = build(kb_dir, index_dir, embedder)
    assert report.full_rebuild and len(report.added) == len(ARTICLES)
    data = json.loads((index_dir / "manifest.json").read_text())
    assert data["model"] == "fake-hash-64" and data["dimension"] == 64
    assert data["index_type"] == "flat" and data["format_version"] == manifest_file.FORMAT_VERSION
    assert set(data["articles"]) == {"reset-password", "locked-out-after-security-update",
                                     "refund-timing", "track-your-order", "manual-unlock-admin"}
    assert all(len(entry["hash"]) == 64 for entry in data["articles"].values())
    assert set(data["files"]) == {"articles", "chunks", "vectors", "sections"}
    assert all(len(entry["sha256"]) == 64 for entry in data["files"].values())


def test_rebuild_without_changes_embeds_nothing(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    before = embedder.encoded
    report = build(kb_dir, index_dir, embedder)
    assert embedder.encoded == before
    assert not report.changed_anything and report.chunks_embedded == 0


def test_only_changed_and_new_articles_are_reembedded(kb_dir, index_dir, embedder):
    first = build(kb_dir, index_dir, embedder)
    path = kb_dir / "billing/refund-timing.md"
    path.write_text(path.read_text().replace("5 working days", "3 working days"))
    (kb_dir / "orders/track-order.md").unlink()
    (kb_dir / "billing/new.md").write_text(
        "---\nid: gift-cards\ntitle: Gift cards\naudience: public\n---\n# Gift cards\n\n"
        "Gift cards never expire and can be used online and in stores.\n")
    embedder.encoded = 0
    report = build(kb_dir, index_dir, embedder)
    assert (report.added, report.changed, report.removed) == (
        ["gift-cards"], ["refund-timing"], ["track-your-order"])
    assert not report.full_rebuild
    assert report.chunks_embedded == 3                         # refund-timing: 2, gift-cards: 1
    assert embedder.encoded == 2 * 3                           # each chunk and its section
    assert report.chunks_total == first.chunks_total - 2 + 1
    index = open_index(index_dir, embedder=embedder)
    assert index.get_article("track-your-order") is None
    assert "3 working days" in index.get_article("refund-timing").body
    assert index.search("gift cards expire").hits[0].article_id == "gift-cards"


def test_other_model_forces_full_rebuild(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    other = FakeEmbedder(dimension=32, name="another-model")
    assert is_stale(kb_dir, index_dir, other)
    with pytest.raises(IndexIncompatible, match="another-model"):
        open_index(index_dir, embedder=other)
    report = build(kb_dir, index_dir, other)
    assert report.full_rebuild and other.encoded == 2 * report.chunks_total   # chunks and sections
    assert open_index(index_dir, embedder=other).dimension == 32


def test_chunking_change_forces_full_rebuild(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    report = build(kb_dir, index_dir, embedder, chunk_chars=200, chunk_overlap=50)
    assert report.full_rebuild


def test_upserted_articles_survive_a_build(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    index = open_index(index_dir, embedder=embedder)
    index.upsert_article(Article(id="fix-printer", title="Printer fix",
                                 body="Restart the label printer spooler.", audience="internal"))
    path = kb_dir / "billing/refund-timing.md"
    path.write_text(path.read_text() + "\nMore text.\n")
    assert is_stale(kb_dir, index_dir, embedder)       # upserted articles do not make it stale
    build(kb_dir, index_dir, embedder)
    assert open_index(index_dir, embedder=embedder).get_article("fix-printer") is not None


def test_is_stale(kb_dir, index_dir, embedder):
    assert is_stale(kb_dir, index_dir, embedder)                  # missing
    build(kb_dir, index_dir, embedder)
    assert not is_stale(kb_dir, index_dir, embedder)
    (kb_dir / "orders/track-order.md").unlink()
    assert is_stale(kb_dir, index_dir, embedder)                  # removed source


def _vectors_file(index_dir):
    return index_dir / json.loads((index_dir / "manifest.json").read_text())["files"]["vectors"]["name"]


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete_file", "garbage_manifest",
                                    "no_manifest"])
def test_corrupt_index_is_detected_and_rebuilt(kb_dir, index_dir, embedder, damage):
    build(kb_dir, index_dir, embedder)
    vectors = _vectors_file(index_dir)
    if damage == "flip_byte":
        data = bytearray(vectors.read_bytes())
        data[len(data) // 2] ^= 0xFF
        vectors.write_bytes(bytes(data))
    elif damage == "truncate":
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "delete_file":
        vectors.unlink()
    elif damage == "garbage_manifest":
        (index_dir / "manifest.json").write_text("{not json")
    else:
        (index_dir / "manifest.json").unlink()
    with pytest.raises(IndexCorrupt):
        open_index(index_dir, embedder=embedder)
    assert is_stale(kb_dir, index_dir, embedder)
    index = open_index(index_dir, source_dir=kb_dir, embedder=embedder)
    assert len(index) == len(ARTICLES)
    assert not is_stale(kb_dir, index_dir, embedder)
    open_index(index_dir, embedder=embedder)                     # readable again


def test_other_format_version_is_incompatible(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 999
    path.write_text(json.dumps(data))
    with pytest.raises(IndexIncompatible, match="format 999"):
        open_index(index_dir, embedder=embedder)
    assert open_index(index_dir, source_dir=kb_dir, embedder=embedder).search("refund").hits


def test_a_format_1_index_without_section_vectors_is_rebuilt(kb_dir, index_dir, embedder):
    """An index saved before the section vectors (format 1: no sections file) is not corrupt
    but of another format: refused without a source, rebuilt in full with one."""
    build(kb_dir, index_dir, embedder)
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text())
    (index_dir / data["files"].pop("sections")["name"]).unlink()
    data["format_version"] = 1
    path.write_text(json.dumps(data))
    assert is_stale(kb_dir, index_dir, embedder)
    with pytest.raises(IndexIncompatible, match="format 1"):
        open_index(index_dir, embedder=embedder)
    report = build(kb_dir, index_dir, embedder)
    assert report.full_rebuild and not is_stale(kb_dir, index_dir, embedder)
    assert set(json.loads(path.read_text())["files"]) == set(manifest_file.ROLES)


def _section_vectors(index):
    """{(article id, position): section vector} of every live section chunk of ``index``."""
    return {(c.article_id, c.position): index._sections[row] for row, c in enumerate(index._row_chunks)
            if c is not None and c.kind == "section"}


def test_section_vectors_are_the_sections_embedded_without_title_and_tags(kb_dir, index_dir, embedder):
    index = open_index(index_dir, source_dir=kb_dir, embedder=embedder)
    chunks = [c for c in index._row_chunks if c.kind == "section"]
    texts = [c.section_text(index.get_article(c.article_id)) for c in chunks]
    assert all(not t.startswith(index.get_article(c.article_id).title + " / ")
               for c, t in zip(chunks, texts))
    expected = dict(zip([(c.article_id, c.position) for c in chunks], embedder.encode(texts)))
    stored = _section_vectors(open_index(index_dir, embedder=embedder))   # as saved
    assert stored.keys() == expected.keys()
    for key, vector in expected.items():
        assert stored[key] == pytest.approx(vector, abs=1e-6)
        assert not stored[key] == pytest.approx(index._store.all_vectors()[
            [r for r, c in enumerate(index._row_chunks) if (c.article_id, c.position) == key][0]])
    questions = [r for r, c in enumerate(index._row_chunks) if c.kind == "question"]
    assert not index._sections[questions].any()


def test_an_incremental_build_keeps_and_replaces_section_vectors(kb_dir, index_dir, embedder):
    before = _section_vectors(open_index(index_dir, source_dir=kb_dir, embedder=embedder))
    path = kb_dir / "billing/refund-timing.md"
    path.write_text(path.read_text().replace("5 working days", "3 working days"))
    (kb_dir / "orders/track-order.md").unlink()
    build(kb_dir, index_dir, embedder)
    index = open_index(index_dir, embedder=embedder)
    after = _section_vectors(index)
    assert not any(key[0] == "track-your-order" for key in after)
    for key, vector in after.items():
        chunk = next(c for c in index._row_chunks if (c.article_id, c.position) == key)
        assert vector == pytest.approx(embedder.encode([chunk.section_text(
            index.get_article(key[0]))])[0], abs=1e-6)
        if key[0] != "refund-timing":
            assert vector == pytest.approx(before[key], abs=1e-6)     # kept, not re-embedded


def test_old_generation_files_are_removed(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    open_index(index_dir, embedder=embedder).delete_article("refund-timing")
    names = sorted(p.name for p in index_dir.iterdir() if p.name != ".lock")
    assert names == ["articles.2.jsonl", "chunks.2.jsonl", "manifest.json", "sections.2.npy",
                     "vectors.2.faiss"]


class Converting(FakeEmbedder):
    """Records each ONNX conversion (``Embedder.prepare``) with how much was embedded before it."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.prepared: list[int] = []
        self.error = error

    def prepare(self) -> None:
        self.prepared.append(self.encoded)
        if self.error is not None:
            raise self.error


BUILD_PATHS = {
    "build (python -m kb_index build)": lambda kb, index, e: build(kb, index, e),
    "open_index with source_dir (the service, the worker)": lambda kb, index, e: open_index(index, source_dir=kb,
                                                                                           embedder=e),
    "build_articles (eval)": lambda kb, index, e: build_articles(load_articles(kb), index, e),
}


@pytest.mark.parametrize("path", list(BUILD_PATHS))
def test_every_build_path_converts_the_model_before_embedding(kb_dir, index_dir, path):
    embedder = Converting()
    BUILD_PATHS[path](kb_dir, index_dir, embedder)
    assert embedder.prepared == [0] and embedder.encoded > 0


@pytest.mark.parametrize("path", list(BUILD_PATHS))
def test_a_rebuild_of_a_corrupt_index_converts_the_model_too(kb_dir, index_dir, path):
    build(kb_dir, index_dir, FakeEmbedder())
    (index_dir / manifest_file.MANIFEST).write_text("{not json")
    embedder = Converting()
    BUILD_PATHS[path](kb_dir, index_dir, embedder)
    assert embedder.prepared == [0] and embedder.encoded > 0


def test_an_unreadable_model_folder_does_not_stop_the_build(kb_dir, index_dir, caplog):
    embedder = Converting(error=FileNotFoundError("embedding model folder /nope does not exist"))
    index = open_index(index_dir, source_dir=kb_dir, embedder=embedder)
    assert embedder.prepared == [0] and len(index.article_ids()) == len(ARTICLES)
    assert "not converted to ONNX" in caplog.text and "/nope" in caplog.text


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.model
def test_a_process_that_rebuilds_the_index_converts_the_model_without_importing_torch(kb_dir, tmp_path):
    """The service's path (open_index with source_dir) on a fresh ONNX folder: the conversion is
    made (in a child process) and the process that rebuilt the index embeds with ONNX Runtime,
    torch never imported there."""
    onnx_dir = tmp_path / "onnx"
    code = ("import sys, kb_index; "
            f"index = kb_index.open_index({str(tmp_path / 'index')!r}, source_dir={str(kb_dir)!r}); "
            "hit = index.search('I forgot my password').hits[0].article_id; "
            "print(index.embedder.backend, 'torch' in sys.modules, hit)")
    env = {**os.environ, "CARE_EMBEDDING_ONNX_DIR": str(onnx_dir), "CARE_EMBEDDING_RUNTIME": "auto"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["onnx", "False", "reset-password"]
    assert len(list(onnx_dir.glob("*/model.onnx"))) == 1


def test_a_failed_conversion_is_logged_and_the_build_goes_on(tmp_path, caplog):
    """A model folder without weights: the child's export fails; auto goes on, onnx refuses."""
    from .test_embedding_onnx import copy_of_model_config

    folder = copy_of_model_config(tmp_path)
    auto = Embedder(model_path=folder, runtime="auto", onnx_dir=tmp_path / "cache")
    building._prepare(auto)
    assert "not converted to ONNX" in caplog.text and not list((tmp_path / "cache").rglob("*.onnx"))
    with pytest.raises(RuntimeError, match="not converted to ONNX"):
        building._prepare(Embedder(model_path=folder, runtime="onnx", onnx_dir=tmp_path / "cache"))

"""The KB index inside the service (escalation/kb.py): a rebuild made by the service itself
leaves the embedding model's ONNX conversion, as `python -m kb_index build` does."""
from __future__ import annotations

from pathlib import Path

import pytest

from escalation import kb


@pytest.mark.model
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_the_service_rebuilding_the_index_converts_the_model(app, track_order_kb: Path, tmp_path: Path,
                                                            monkeypatch, damage):
    onnx_dir = tmp_path / "onnx"
    monkeypatch.setenv("CARE_EMBEDDING_ONNX_DIR", str(onnx_dir))
    monkeypatch.delenv("CARE_EMBEDDING_RUNTIME", raising=False)  # auto: ONNX when converted
    source, target = track_order_kb, tmp_path / "index"
    if damage == "corrupt":
        target.mkdir()
        (target / "manifest.json").write_text("{not json")
    app.config.update(KB_SOURCE_DIR=str(source), KB_INDEX_DIR=str(target))
    index = kb.get_index(app)  # the service's own path: no embedder given, the real model
    assert index.article_ids() == ["track-order"]
    [converted] = list(onnx_dir.glob("*/model.onnx"))
    assert converted.stat().st_size > 1_000_000
    assert index.search("where is my parcel").hits[0].article_id == "track-order"
    assert index.embedder.backend == "onnx"

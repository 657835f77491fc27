"""The embedding model through ONNX Runtime: the same vectors as sentence-transformers, a
cache keyed by the model's files, and the fallback to torch when there is no conversion."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from kb_index import building, onnx_model
from kb_index.embedding import Embedder, FakeEmbedder, packaged_model_path

ROOT = Path(__file__).resolve().parents[2]


def eval_questions() -> list[str]:
    texts = []
    for name in ("kb_questions.jsonl", "out_of_scope.jsonl"):
        with (ROOT / "data" / "eval" / name).open() as fh:
            texts += [json.loads(line)["question"] for line in fh if line.strip()]
    return texts


@pytest.fixture(scope="module")
def onnx_embedder() -> Embedder:
    embedder = Embedder(runtime="onnx")
    embedder.prepare()            # converts once per model (var/embedding_onnx), as the build does
    return embedder


@pytest.mark.model
def test_onnx_gives_the_vectors_of_sentence_transformers(onnx_embedder: Embedder) -> None:
    questions = eval_questions()
    long_text = "my parcel has not arrived and " * 120          # past the 256-token truncation
    texts = questions + [long_text, "a", "?"]
    torch_embedder = Embedder(runtime="torch")
    # in batches (padded to the longest) and one by one (the query path)
    batch_onnx = onnx_embedder._encode(onnx_embedder._load(), texts, False)
    batch_torch = torch_embedder._encode(torch_embedder._load(), texts, False)
    assert onnx_embedder.backend == "onnx" and torch_embedder.backend == "torch"
    assert batch_onnx.shape == batch_torch.shape == (len(texts), 384)
    assert np.abs(batch_onnx - batch_torch).max() < 1e-4
    singles = np.vstack([onnx_embedder.encode([t]) for t in questions[:40]])
    assert np.abs(singles - batch_torch[:40]).max() < 1e-4
    assert np.allclose(np.linalg.norm(batch_onnx, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_the_serving_process_needs_no_torch_and_concurrent_queries_agree(onnx_embedder: Embedder) -> None:
    import subprocess
    import sys

    code = ("import sys; from kb_index.embedding import Embedder; e = Embedder(runtime='onnx'); "
            "e.encode(['where is my order']); print(e.backend, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["onnx", "False"]

    questions = eval_questions()[:64]
    alone = onnx_embedder._encode(onnx_embedder._load(), questions, False)
    with ThreadPoolExecutor(8) as pool:   # no lock around the session: threads must not mix
        together = list(pool.map(lambda t: onnx_embedder._encode(onnx_embedder._load(), [t], False)[0],
                                 questions))
    assert np.abs(np.vstack(together) - alone).max() < 1e-5


@pytest.mark.model
def test_without_a_conversion_auto_falls_back_to_sentence_transformers(tmp_path: Path) -> None:
    embedder = Embedder(runtime="auto", onnx_dir=tmp_path)
    assert embedder.encode(["reset my password"]).shape == (1, 384)
    assert embedder.backend == "torch"


def test_onnx_runtime_without_a_conversion_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="kb_index build"):
        Embedder(runtime="onnx", onnx_dir=tmp_path).encode(["hi"])


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        Embedder(runtime="tensorflow")


def copy_of_model_config(tmp_path: Path) -> Path:
    """The packaged model's small files (enough for the layout check and the cache key)."""
    source, folder = packaged_model_path(), tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    for name in ("config.json", "modules.json", "tokenizer.json", "1_Pooling/config.json"):
        shutil.copy(source / name, folder / name)
    return folder


def test_the_cache_key_follows_the_model_files(tmp_path: Path) -> None:
    folder = copy_of_model_config(tmp_path)
    before = onnx_model.onnx_path(folder, tmp_path / "cache")
    assert before == onnx_model.onnx_path(folder, tmp_path / "cache")
    (folder / "README.md").write_text("notes do not change the vectors")
    assert onnx_model.onnx_path(folder, tmp_path / "cache") == before
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    assert onnx_model.onnx_path(folder, tmp_path / "cache") != before


def test_only_mean_pooled_models_are_converted(tmp_path: Path) -> None:
    folder = copy_of_model_config(tmp_path)
    assert onnx_model.supported(folder)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {**pooling, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert not onnx_model.supported(folder)
    embedder = Embedder(model_path=folder, runtime="auto", onnx_dir=tmp_path / "cache")
    assert embedder.onnx_file() is None and embedder.prepare() is None
    assert Embedder(model_path=folder, runtime="torch").prepare() is None


def test_a_failed_conversion_leaves_the_build_on_torch(tmp_path: Path, monkeypatch, caplog) -> None:
    def broken_export(model_dir: Path, target: Path) -> Path:
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(onnx_model, "export", broken_export)
    folder = copy_of_model_config(tmp_path)
    assert Embedder(model_path=folder, runtime="auto", onnx_dir=tmp_path / "cache").prepare() is None
    assert "not converted to ONNX" in caplog.text
    with pytest.raises(ImportError):
        Embedder(model_path=folder, runtime="onnx", onnx_dir=tmp_path / "cache").prepare()


def test_build_converts_the_model_first(tmp_path: Path, monkeypatch) -> None:
    calls = []

    class Converting(FakeEmbedder):
        def prepare(self) -> None:
            calls.append(self.encoded)       # before anything is embedded

    source = tmp_path / "kb"
    source.mkdir()
    (source / "a.md").write_text("---\nid: a\ntitle: A\naudience: public\n---\n\nSome text about refunds.\n")
    building.build(source, tmp_path / "index", Converting())
    assert calls == [0]


# what kb_index/onnx_model.py may import at module level: the Rasa environment loads the file
# on its own for the intent classifier's sentence feature (chatbot/care_sentence_featurizer.py)
RASA_SAFE_IMPORTS = {"__future__", "hashlib", "json", "logging", "os", "tempfile", "warnings",
                     "pathlib", "numpy"}


def test_the_serving_runtime_imports_nothing_of_kb_index_nor_beyond_numpy() -> None:
    import ast

    tree = ast.parse(Path(onnx_model.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import: the file must load outside its package"
            top.add((node.module or "").split(".")[0])
    assert top <= RASA_SAFE_IMPORTS
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert not relative and not any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("kb_index")
                                     for n in ast.walk(tree))


def test_unit_vectors_scale_rows_to_length_one_and_leave_zero_rows_zero() -> None:
    vectors = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float64)
    unit = onnx_model.unit_vectors(vectors)
    assert unit.dtype == np.float32
    assert np.allclose(unit, [[0.6, 0.8], [0.0, 0.0]])

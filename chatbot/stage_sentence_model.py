"""Stage the knowledge base's embedding model for the Rasa sentence featurizer.

Run in the main environment (it has the packaged all-MiniLM-L6-v2 and kb_index), before
`rasa train`; `make model` does:

    .venv/bin/python chatbot/stage_sentence_model.py [TARGET]   # default var/rasa_sentence_model

It converts the model to ONNX if no index build has yet (the same cached
conversion the knowledge base serves, under CARE_EMBEDDING_ONNX_DIR), quantizes its weights
to int8 (ONNX Runtime's dynamic quantization: a quarter of the size, about a quarter of the CPU
per message, and intent F1 as good in cross-validation, docs/nlu-cross-validation.md), then
puts that graph and the three small files the featurizer reads in TARGET
(care_sentence_featurizer.py), and records in TARGET/source.json where they came from.
Files already identical are left alone (the quantization is deterministic).
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from kb_index.embedding import Embedder, packaged_model_path  # noqa: E402

SMALL_FILES = ("tokenizer.json", "config.json", "sentence_bert_config.json")


def _place(source: Path, target: Path) -> bool:
    """Copy `source` to `target` unless an identical file is there; True if it changed."""
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return False
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return True


def quantize(onnx_file: Path, target: Path) -> bool:
    """int8 dynamic quantization of `onnx_file` into `target`; True if `target` changed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process; measured without
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        quantized = Path(tmp) / target.name
        quantize_dynamic(onnx_file, quantized, weight_type=QuantType.QInt8)
        return _place(quantized, target)


def stage(target: Path) -> list[str]:
    embedder = Embedder(runtime="onnx")  # an error, not a torch fallback, if it cannot convert
    onnx_file = embedder.prepare()
    if onnx_file is None or not onnx_file.is_file():
        raise SystemExit(f"{embedder.name} could not be converted to ONNX")
    folder = embedder.model_path or packaged_model_path()
    target.mkdir(parents=True, exist_ok=True)
    changed = [name for name in SMALL_FILES if _place(folder / name, target / name)]
    if quantize(onnx_file, target / "model.onnx"):
        changed.append("model.onnx")
    # where it came from (make's target for this step)
    source = json.dumps({"model": embedder.name, "onnx": str(onnx_file),
                         "quantization": "dynamic, int8 weights"}, indent=1) + "\n"
    record = target / "source.json"
    if not record.is_file() or record.read_text() != source:
        record.write_text(source)
    return changed


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else REPO_ROOT / "var" / "rasa_sentence_model"
    changed = stage(target)
    print(f"sentence model in {target}: " + (", ".join(changed) + " updated" if changed else "up to date"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The embedding model run by ONNX Runtime: no torch in the serving process.

:func:`export` converts a local sentence-transformers folder (a BERT-style transformer,
mean pooling, normalisation, as all-MiniLM-L6-v2's ``modules.json`` says) into one ONNX
graph that returns the mean-pooled sentence vectors.  Every index build runs it, in a child
process (``kb_index.building``: ``python -m kb_index build``, and the service or worker
rebuilding an index), and it needs torch and ``onnx``; nothing is downloaded.  The file is cached under
``CARE_EMBEDDING_ONNX_DIR`` in a folder keyed by the hash of the model's files, so another
model, or changed weights, get their own conversion.

:class:`OnnxModel` serves it with the ``tokenizers`` package and ``onnxruntime`` only, one
intra-op thread (two cores shared by several processes).  Both calls are thread-safe, so
concurrent queries run in parallel without a lock.

The serving half needs nothing but ``onnxruntime``, ``tokenizers``, numpy and the standard
library, and this module imports nothing else of ``kb_index``: the Rasa environment runs the
same code for the intent classifier's sentence feature (``chatbot/care_sentence_featurizer.py``
loads this file), so keep it that way (``tests/kb_index/test_embedding_onnx.py`` checks).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Part of the cache key: bump it when the exported graph changes.
EXPORT_VERSION = "1"
ONNX_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The model's files that decide its vectors (README and the like do not).
_KEY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json",
              "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
              "1_Pooling/config.json", "model.safetensors", "pytorch_model.bin")


def model_key(model_dir: Path) -> str:
    """Hash of the files that decide the model's vectors (and of the export's version)."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for name in _KEY_FILES:
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as fh:
                digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:20]


def onnx_path(model_dir: Path, cache_dir: Path) -> Path:
    return Path(cache_dir) / f"{model_dir.name}-{model_key(model_dir)}" / ONNX_FILE


def supported(model_dir: Path) -> bool:
    """True for a transformer + mean pooling (+ normalise) model, the one graph we export."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return kinds in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]) \
        and modes == {"pooling_mode_mean_tokens"}


def export(model_dir: Path, target: Path) -> Path:
    """Write ``model_dir``'s embedding graph to ``target`` (atomically; fp32, opset 17)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    class SentenceVectors(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            # normalised in numpy after the run: the same for both model kinds
            return mean

    hf_logging.disable_progress_bar()
    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    axes["sentence_embedding"] = {0: "batch"}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer's notes on shapes it fixes: padding and batch stay dynamic (tested)
            warnings.simplefilter("ignore")
            torch.onnx.export(SentenceVectors(transformer), (sample, sample, torch.zeros_like(sample)),
                              tmp, input_names=list(INPUTS), output_names=["sentence_embedding"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("exported %s to %s", model_dir, target)
    return target


def max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


class OnnxModel:
    """Tokenizer + ONNX Runtime session; ``encode`` returns float32 mean-pooled vectors."""

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # what sentence-transformers does: truncate at max_seq_length, pad to the longest
        self.tokenizer.enable_truncation(max_seq_length(model_dir))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """The texts' mean-pooled vectors, one batch padded to its longest (not normalised)."""
        encodings = self.tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        (vectors,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return vectors


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (the model's Normalize module), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

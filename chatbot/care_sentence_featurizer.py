"""A dense sentence feature for the intent classifier: the all-MiniLM-L6-v2 sentence vector.

The logistic regression (care_intent_classifier.py) sees only word and character-n-gram
counts, so a phrasing it has never seen ("cya", "I'm off now") has few features it knows.
A sentence-transformers vector places such phrasings near the examples that mean the same,
and a linear classifier on sentence vectors beside the counts is a strong intent classifier
on small data (docs/nlu-cross-validation.md).

The vector comes from the model the knowledge base already uses, run the way it runs it
(`kb_index/onnx_model.py`): the ONNX graph that `python -m kb_index build` converts, its
weights quantized to int8, the ``tokenizers`` package, ONNX Runtime with one thread; mean
pooling, then unit length. No torch, no TensorFlow, nothing downloaded.
`stage_sentence_model.py` (run by `make model`, in the main environment, which has the
packaged model) quantizes it and puts the four files it needs in one folder,
`var/rasa_sentence_model/` by default, because the packaged model's Python package pulls in
torch and cannot be installed beside Rasa.

Only the sentence feature of the message text is added (no sequence features: no component of
this pipeline reads dense sequence features), multiplied by ``scale`` so that the unit vector
weighs as much as the counts beside it under the classifier's L2 penalty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = "var/rasa_sentence_model"
# what stage_sentence_model.py copies; the ONNX graph returns mean-pooled token vectors
MODEL_FILES = ("model.onnx", "tokenizer.json", "config.json", "sentence_bert_config.json")


def resolve_model_dir(configured: str | None) -> Path:
    """The configured folder; a relative one is relative to the repository root (not the cwd)."""
    folder = Path(configured or DEFAULT_MODEL_DIR)
    return folder if folder.is_absolute() else REPO_ROOT / folder


class SentenceEncoder:
    """tokenizer.json + model.onnx from one folder; `encode` returns unit float32 vectors."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
        if missing:
            raise InvalidConfigException(
                f"The sentence model folder {model_dir} lacks {', '.join(missing)}: run "
                "`make model` (it converts the knowledge base's embedding model and stages it "
                "there), or set the featurizer's `model_dir`.")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        st_config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.tokenizer.enable_truncation(int(st_config.get("max_seq_length", 256)))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        (vectors,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class CareSentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the message text's sentence vector (times ``scale``) as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # folder with MODEL_FILES; relative: to the repository root
            "model_dir": DEFAULT_MODEL_DIR,
            # the vector's weight beside the counts (cross-validated, docs/nlu-cross-validation.md)
            "scale": 1.0,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["onnxruntime", "tokenizers"]

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self.scale = float(self._config["scale"])
        self.encoder = SentenceEncoder(resolve_model_dir(self._config["model_dir"]))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CareSentenceFeaturizer":
        return cls(config, execution_context)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The staged files' sizes and times: `rasa train` must not reuse features cached from
        another sentence model (its cache keys on config and data, not on files we read)."""
        folder = resolve_model_dir(config.get("model_dir"))
        stats = [(name, path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else (name,)
                 for name, path in ((name, folder / name) for name in MODEL_FILES)]
        return repr(stats)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise InvalidConfigException("CareSentenceFeaturizer: `scale` must be positive.")

    def _featurize(self, messages: list[Message]) -> None:
        # One text per ONNX run, in training too: the int8 graph quantizes its activations with
        # one scale per run, so a text's vector in a padded batch differs from its vector alone
        # (which is how Rasa sees each message). ~1.5 ms a text: 1 s for the training data.
        for message in messages:
            if message.get(TEXT):
                vector = self.encoder.encode([message.get(TEXT)]) * self.scale
                message.add_features(Features(vector, FEATURE_TYPE_SENTENCE, TEXT,
                                              self._config[FEATURIZER_CLASS_ALIAS]))

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

"""A dense sentence feature for the intent classifier: the all-MiniLM-L6-v2 sentence vector.

The logistic regression (care_intent_classifier.py) sees only word and character-n-gram
counts, so a phrasing it has never seen ("cya", "I'm off now") has few features it knows.
A sentence-transformers vector places such phrasings near the examples that mean the same,
and a linear classifier on sentence vectors beside the counts is a strong intent classifier
on small data (docs/nlu-cross-validation.md).

The vector comes from the model the knowledge base already uses, run by the knowledge base's
own runtime (`kb_index/onnx_model.py`'s `OnnxModel`: the ``tokenizers`` package, ONNX Runtime
with one thread, mean pooling; then unit length) on the ONNX graph that every KB build
converts, its weights quantized to int8. No torch, no TensorFlow, nothing downloaded.
That module needs only onnxruntime, tokenizers and numpy, but the ``kb_index`` package around
it needs FAISS and more, and Rasa's path has the chatbot folder, not the repository root (its
working directory in `make model`, `make run`, the tests and the commands in chatbot/README.md):
so the file is loaded from its path, the way careops loads `care_sessions.py` the other way.
`stage_sentence_model.py` (run by `make model`, in the main environment, which has the
packaged model) quantizes it and puts the four files it needs in one folder,
`var/rasa_sentence_model/` by default, because the packaged model's Python package pulls in
torch and cannot be installed beside Rasa.

Only the sentence feature of the message text is added (no sequence features: no component of
this pipeline reads dense sequence features), multiplied by ``scale`` so that the unit vector
weighs as much as the counts beside it under the classifier's L2 penalty.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

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
RUNTIME_FILE = REPO_ROOT / "kb_index" / "onnx_model.py"
DEFAULT_MODEL_DIR = "var/rasa_sentence_model"
# what stage_sentence_model.py copies; the ONNX graph returns mean-pooled token vectors
MODEL_FILES = ("model.onnx", "tokenizer.json", "config.json", "sentence_bert_config.json")


def load_runtime() -> ModuleType:
    """kb_index/onnx_model.py as a module of its own (not the ``kb_index`` package's)."""
    spec = importlib.util.spec_from_file_location("care_kb_onnx_model", RUNTIME_FILE)
    if spec is None or spec.loader is None:
        raise InvalidConfigException(f"CareSentenceFeaturizer: cannot load {RUNTIME_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


onnx_model = load_runtime()


def resolve_model_dir(configured: str | None) -> Path:
    """The configured folder; a relative one is relative to the repository root (not the cwd)."""
    folder = Path(configured or DEFAULT_MODEL_DIR)
    return folder if folder.is_absolute() else REPO_ROOT / folder


def open_model(model_dir: Path) -> Any:
    """The knowledge base's runtime on the staged folder (an error saying how to stage it)."""
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise InvalidConfigException(
            f"The sentence model folder {model_dir} lacks {', '.join(missing)}: run "
            "`make model` (it converts the knowledge base's embedding model and stages it "
            "there), or set the featurizer's `model_dir`.")
    return onnx_model.OnnxModel(model_dir, model_dir / "model.onnx")


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
        self.model = open_model(resolve_model_dir(self._config["model_dir"]))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CareSentenceFeaturizer":
        return cls(config, execution_context)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The staged files' sizes and times, and the code that turns text into the vector:
        `rasa train` must not reuse features cached from another sentence model or runtime
        (its cache keys on config and data, not on files or code we read)."""
        folder = resolve_model_dir(config.get("model_dir"))
        stats = [(name, path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else (name,)
                 for name, path in ((name, folder / name) for name in MODEL_FILES)]
        code = hashlib.sha256(RUNTIME_FILE.read_bytes() + Path(__file__).read_bytes()).hexdigest()
        return repr((stats, code))

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
                vector = onnx_model.unit_vectors(self.model.encode([message.get(TEXT)])) * self.scale
                message.add_features(Features(vector, FEATURE_TYPE_SENTENCE, TEXT,
                                              self._config[FEATURIZER_CLASS_ALIAS]))

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

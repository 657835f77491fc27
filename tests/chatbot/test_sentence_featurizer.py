"""The intent classifier's sentence feature (chatbot/care_sentence_featurizer.py): the KB's
all-MiniLM-L6-v2 through ONNX Runtime, staged by `make model` in var/rasa_sentence_model."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # TensorFlow/Keras warn as Rasa's modules load them
    import care_sentence_featurizer
    from care_intent_classifier import CareLogisticRegressionClassifier
    from care_sentence_featurizer import MODEL_FILES, CareSentenceFeaturizer, resolve_model_dir
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.exceptions import InvalidConfigException
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

MODEL_DIR = resolve_model_dir(None)
needs_model = pytest.mark.skipif(
    not all((MODEL_DIR / name).is_file() for name in MODEL_FILES),
    reason=f"no staged sentence model in {MODEL_DIR} (`make model` stages it)")
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def featurizer(**config) -> CareSentenceFeaturizer:
    config = {**CareSentenceFeaturizer.get_default_config(), **config}
    return CareSentenceFeaturizer.create(config, None, Resource("sentence"), CONTEXT)


def sentence_vector(message: Message) -> np.ndarray:
    _, sentence = message.get_dense_features("text")
    return sentence.features[0]


@needs_model
def test_each_text_gets_one_unit_sentence_vector_times_the_scale():
    messages = [Message(data={"text": "hi there"}), Message(data={"text": "where is CR-10482?"})]
    featurizer(scale=3.0).process(messages)
    for message in messages:
        sequence, sentence = message.get_dense_features("text")
        assert sequence is None  # nothing in the pipeline reads dense sequence features
        assert sentence.features.shape == (1, 384)
        assert np.linalg.norm(sentence.features) == pytest.approx(3.0, rel=1e-4)


def test_the_runtime_is_the_knowledge_bases_own_module_without_its_package():
    """One ONNX runtime for both environments: kb_index/onnx_model.py, loaded from its file
    (the Rasa environment has neither FAISS nor the repository root on its path)."""
    root = Path(__file__).resolve().parents[2]
    assert Path(care_sentence_featurizer.onnx_model.__file__) == root / "kb_index" / "onnx_model.py"
    assert care_sentence_featurizer.onnx_model.OnnxModel.__module__ == "care_kb_onnx_model"


@needs_model
def test_the_vector_is_the_runtimes_mean_pooled_vector_at_unit_length_times_the_scale():
    texts = ["where is CR-10482?", "cya", "my parcel has not arrived and " * 120]  # last: truncated
    messages = [Message(data={"text": t}) for t in texts]
    featurizer(scale=4.0).process(messages)
    # an OnnxModel of a freshly loaded copy of the module: the featurizer adds only the norm
    runtime = care_sentence_featurizer.load_runtime()
    model = runtime.OnnxModel(MODEL_DIR, MODEL_DIR / "model.onnx")
    for text, message in zip(texts, messages):
        (pooled,) = model.encode([text])
        assert np.array_equal(sentence_vector(message), 4.0 * runtime.unit_vectors(pooled[None])[0])
        assert np.allclose(sentence_vector(message), 4.0 * pooled / np.linalg.norm(pooled), atol=1e-6)


@needs_model
def test_messages_without_text_get_no_feature():
    message = Message(data={"intent": "greet"})
    featurizer().process([message])
    assert message.get_dense_features("text") == (None, None)


@needs_model
def test_training_gives_each_text_the_vector_it_gets_alone_at_run_time():
    """The int8 graph's activation scale is per run: padding a batch would change vectors."""
    texts = ["bye", "ok thanks, that is all I needed for today", "talk to a human please",
             "nope", "my e-mail is jane@example.com"]
    batched = [Message(data={"text": t, "intent": "x"}) for t in texts]
    model = featurizer()
    model.process_training_data(TrainingData(batched))
    for text, message in zip(texts, batched):
        single = Message(data={"text": text})
        model.process([single])
        assert np.allclose(sentence_vector(message), sentence_vector(single), atol=1e-5)


@needs_model
def test_paraphrases_are_closer_than_other_intents():
    texts = ["goodbye", "see you later, I'm off now", "has my ticket been answered yet"]
    messages = [Message(data={"text": t}) for t in texts]
    featurizer().process(messages)
    bye, off, ticket = (sentence_vector(m) for m in messages)
    assert bye @ off > bye @ ticket + 0.1


@needs_model
def test_the_classifier_learns_from_counts_and_sentence_vectors_together(tmp_path):
    """The logistic regression stacks sparse counts and the dense vector; a saved one loads."""
    examples = {"greet": ["hello", "hi", "good morning", "hey there", "hiya"],
                "goodbye": ["bye", "see you", "good night", "farewell", "talk later"],
                "request_human": ["agent please", "a real person", "human support",
                                  "operator", "let me speak to staff"]}
    train = [Message(data={"text": t, "intent": i}) for i, ts in examples.items() for t in ts]
    for message in train:  # a constant count column: the vector has to tell intents apart
        message.add_features(Features(scipy.sparse.coo_matrix(np.ones((1, 2))), "sentence",
                                      "text", "counts"))
    featurizer(scale=5.0).process_training_data(TrainingData(train))
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intent_classifier")
    CareLogisticRegressionClassifier.create({}, storage, resource, CONTEXT).train(TrainingData(train))
    loaded = CareLogisticRegressionClassifier.load({}, storage, resource, CONTEXT)
    assert loaded.clf.coef_.shape == (3, 2 + 384)

    test = [Message(data={"text": t}) for t in ("hello there", "see you tomorrow", "a human agent")]
    for message in test:
        message.add_features(Features(scipy.sparse.coo_matrix(np.ones((1, 2))), "sentence",
                                      "text", "counts"))
    featurizer(scale=5.0).process(test)
    loaded.process(test)
    assert [m.get("intent")["name"] for m in test] == ["greet", "goodbye", "request_human"]


def test_a_missing_model_folder_says_how_to_make_it(tmp_path):
    with pytest.raises(InvalidConfigException, match="make model"):
        featurizer(model_dir=str(tmp_path / "absent"))


def test_a_relative_model_folder_is_relative_to_the_repository():
    assert resolve_model_dir("var/x") == MODEL_DIR.parent / "x"
    assert resolve_model_dir("/abs/x").as_posix() == "/abs/x"


@needs_model
def test_another_sentence_model_changes_the_training_cache_key(tmp_path):
    """Rasa's training cache keys on config and data; the staged files must count too."""
    for name in MODEL_FILES:
        shutil.copy2(MODEL_DIR / name, tmp_path / name)
    config = {"model_dir": str(tmp_path)}
    before = CareSentenceFeaturizer.fingerprint_addon(config)
    assert CareSentenceFeaturizer.fingerprint_addon(config) == before
    (tmp_path / "model.onnx").write_bytes((MODEL_DIR / "model.onnx").read_bytes()[:-1])
    assert CareSentenceFeaturizer.fingerprint_addon(config) != before


def test_another_runtime_changes_the_training_cache_key(tmp_path, monkeypatch):
    """The code that makes the vector counts too: it lives in kb_index, outside chatbot/."""
    config = {"model_dir": str(tmp_path)}
    before = CareSentenceFeaturizer.fingerprint_addon(config)
    runtime = tmp_path / "onnx_model.py"
    runtime.write_bytes(care_sentence_featurizer.RUNTIME_FILE.read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(care_sentence_featurizer, "RUNTIME_FILE", runtime)
    assert CareSentenceFeaturizer.fingerprint_addon(config) != before

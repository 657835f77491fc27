"""The intent classifier Rasa loads is the one it trained: Rasa's LogisticRegressionClassifier,
saved as plain arrays (chatbot/care_intent_classifier.py) instead of through skops."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse

with warnings.catch_warnings():
    # Rasa's modules import TensorFlow/Keras (through rasa.utils.train_utils), which warn as they load
    warnings.simplefilter("ignore")
    from care_intent_classifier import CareLogisticRegressionClassifier
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

INTENTS = ["greet", "thank", "request_human"]


def message(intent: str, rng: np.random.Generator) -> Message:
    """A message whose sentence features lean towards its intent (sparse counts, as the
    CountVectorsFeaturizers give)."""
    counts = rng.poisson(0.3, size=(1, 12)).astype(float)
    counts[0, INTENTS.index(intent) * 4] += 3
    msg = Message(data={"text": intent, "intent": intent})
    msg.add_features(Features(scipy.sparse.coo_matrix(counts), "sentence", "text", "counts"))
    return msg


def test_a_saved_classifier_loads_with_the_same_predictions(tmp_path):
    rng = np.random.default_rng(18)
    train = TrainingData([message(INTENTS[i % 3], rng) for i in range(60)])
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intent_classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = CareLogisticRegressionClassifier.create({}, storage, resource, context)
    trained.train(train)

    saved = list((tmp_path / resource.name).iterdir())
    assert [p.suffix for p in saved] == [".npz"]  # no skops (and no pickle) in the model
    loaded = CareLogisticRegressionClassifier.load({}, storage, resource, context)

    test = [message(INTENTS[i % 3], rng) for i in range(9)]
    before = trained.clf.predict_proba(trained._create_X(test))
    after = loaded.clf.predict_proba(loaded._create_X(test))
    assert np.allclose(before, after)
    loaded.process(test)
    assert [m.get("intent")["name"] for m in test] == [INTENTS[i % 3] for i in range(9)]


def test_a_missing_file_gives_an_untrained_classifier(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = CareLogisticRegressionClassifier.load({}, storage, Resource("nothing"), context)
    assert not hasattr(loaded.clf, "classes_")

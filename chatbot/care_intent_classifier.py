"""Rasa's own LogisticRegressionClassifier, saved as plain arrays instead of through skops.

The classifier is Rasa 3.6's `LogisticRegressionClassifier` unchanged: same features, same
training, same prediction. Only its file changes. Rasa saves the scikit-learn object with
`skops.io`, whose import builds a list of every scikit-learn estimator and so imports all of
scikit-learn (and pytest, through `sklearn.utils._testing`): 4-8 s of every `rasa run`, more
than the rest of loading the model (issue 18, docs/benchmarks.md "Cold start"). A fitted
multinomial logistic regression is three arrays (`coef_`, `intercept_`, `classes_`), kept here
in one `.npz` read without pickle, so loading a model runs no code from the file either.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

logger = logging.getLogger(__name__)

# the fitted attributes `predict_proba` reads (multinomial, lbfgs, more than two intents)
FITTED = ("coef_", "intercept_", "classes_")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CareLogisticRegressionClassifier(LogisticRegressionClassifier):
    """`LogisticRegressionClassifier` whose fitted weights are stored as a pickle-free `.npz`."""

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            if not hasattr(self.clf, "classes_"):
                return  # nothing was trained (no intent examples)
            arrays = {name: np.asarray(getattr(self.clf, name)) for name in FITTED}
            arrays["classes_"] = arrays["classes_"].astype(str)
            np.savez(model_dir / f"{self._resource.name}.npz", **arrays)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CareLogisticRegressionClassifier":
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / f"{resource.name}.npz", allow_pickle=False) as saved:
                    for name in FITTED:
                        setattr(component.clf, name, saved[name])
        except (ValueError, FileNotFoundError):
            logger.debug("No trained intent classifier in resource '%s'.", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        component.clf.n_features_in_ = component.clf.coef_.shape[1]
        return component

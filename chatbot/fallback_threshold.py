"""Choose the FallbackClassifier threshold from a cross-validation run.

`rasa test nlu` reverts FallbackClassifier's predictions before scoring, so a normal
cross-validation run keeps the classifier's raw top intent and confidence. Keep every
prediction and read them here:

    rasa test nlu --cross-validation --folds 5 --successes --out results/cv
    python fallback_threshold.py results/cv

For each threshold, a prediction below it becomes `nlu_fallback`, as FallbackClassifier
does (its ambiguity threshold is not simulated). Prints intent macro-F1 counting a fallback
as a wrong answer, and the share of messages that fall back. Standard library only.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

FALLBACK = "nlu_fallback"
THRESHOLDS = [0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]


def load_predictions(folder: Path) -> list[tuple[str, str, float]]:
    """(true intent, predicted intent, confidence) for every test message of every fold."""
    rows = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = folder / name
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")):
                prediction = item["intent_prediction"]
                rows.append((item["intent"], prediction["name"], prediction["confidence"]))
    return rows


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Unweighted mean F1 over the true intents (a fallback is never a true intent)."""
    intents = sorted({true for true, _ in pairs})
    true_positives = Counter(true for true, predicted in pairs if true == predicted)
    predicted_count = Counter(predicted for _, predicted in pairs)
    true_count = Counter(true for true, _ in pairs)
    scores = []
    for intent in intents:
        tp = true_positives[intent]
        precision = tp / predicted_count[intent] if predicted_count[intent] else 0.0
        recall = tp / true_count[intent]
        scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return sum(scores) / len(scores)


def report(rows: list[tuple[str, str, float]]) -> str:
    lines = ["| threshold | intent macro-F1 | messages that fall back |", "| --- | --- | --- |"]
    for threshold in THRESHOLDS:
        pairs = [
            (true, predicted if confidence >= threshold else FALLBACK)
            for true, predicted, confidence in rows
        ]
        fallen = sum(1 for _, predicted in pairs if predicted == FALLBACK)
        lines.append(
            f"| {threshold:.2f} | {macro_f1(pairs):.3f} | {fallen / len(pairs):.1%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    predictions = load_predictions(Path(sys.argv[1]))
    print(f"{len(predictions)} test predictions")
    print(report(predictions))

"""What the two classification kinds (images, text) share: the model's data dimensions, the
prediction rows and the scores."""

from __future__ import annotations

import numpy as np

from zoo import metrics
from zoo.tasks import EvaluationError, _evaluation

METRICS = ("accuracy", "macro_recall", "macro_f1")


def check_classes(model, spec, columns=None):
    """The model's class count must be the benchmark's, or (`columns` from a --label-map of a
    model with fewer classes) the number of model columns the map uses."""
    expected = len(spec.labels) if columns is None else sum(c is not None for c in columns)
    classes = model.get_config().get("num_classes")
    if classes != expected:
        what = ("labels" if columns is None or None not in columns
                else "labels, of which --label-map maps " + str(expected))
        raise EvaluationError(
            f"The model has {classes} output classes but benchmark '{spec.id}' has "
            f"{len(spec.labels)} {what} ({', '.join(spec.labels or [])}); evaluate a model "
            "built or trained for it."
        )


def rows(logits, targets, begin):
    """A prediction row per example: index, target, predicted class and its probability."""
    _evaluation.finite(logits, begin, "outputs (logits)")
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    for i, (row, target) in enumerate(zip(probs, targets)):
        yield {"index": begin + i, "target": int(target), "prediction": int(row.argmax()),
               "confidence": round(float(row.max()), 6)}


def score(spec, examples, rows, idx, **context):
    """Accuracy, macro recall and macro F1 of the rows' predictions (scikit-learn's), with
    bootstrap intervals over `idx`; the report holds the per-class table and confusion
    matrix."""
    y_true = np.array([r["target"] for r in rows])
    y_pred = np.array([r["prediction"] for r in rows])
    found, samples, report = metrics.classification(
        y_true, y_pred, labels=list(range(len(spec.labels))), label_names=list(spec.labels),
        idx=idx,
    )
    return *_evaluation.only(found, samples, spec), report



def misclassified(definition, rows, text):
    """The leaderboard's examples of a classifier (`zoo.tasks.examples`): its first 15 errors,
    in test-set order, with class names; `text`: the rows hold the example's text (image
    rows hold no pixels: the note says where to look the image up)."""
    labels = definition.get("labels") or []

    def name(i):
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else i

    wrong = [x for x in rows if x.get("prediction") != x.get("target")][:15]
    note = "The first 15 errors, in test-set order." + (
        "" if text else " The record keeps the test index, not the image: look it up in the "
                        f"{'' if definition.get('dataset') is None else definition['dataset']}"
                        " test split.")
    columns = [("test index", "index"), *([("text", "text")] if text else []),
               ("true", "text"), ("predicted", "text"), ("confidence", "number")]
    table = [[x.get("index"), *([x.get("text", "")] if text else []), name(x.get("target")),
              name(x.get("prediction")), x.get("confidence")] for x in wrong]
    return {"title": "Misclassified examples", "empty": "None.", "note": note,
            "columns": columns, "rows": table}

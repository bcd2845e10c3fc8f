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



#: How many misclassified examples a leaderboard page shows (and an image report keeps).
SHOWN = 15


def first_errors(rows, n=SHOWN):
    """The first `n` prediction rows whose prediction is not the target, in test-set order."""
    return [x for x in rows if x.get("prediction") != x.get("target")][:n]


#: The longest side of a kept error image, in pixels: larger images are averaged down by a
#: whole factor (a 224x224 image keeps 56x56), so a record stays small.
THUMBNAIL = 64


def error_pixels(examples, rows, n=SHOWN):
    """The images of the first `n` errors (`first_errors`) as uint8 pixel lists, `[n][height]
    [width]` for one channel and `[n][height][width][3]` for three (RGB), as a record's
    `report.images` keeps them (`zoo.records.PIXELS`), at most `THUMBNAIL` pixels a side;
    `examples.inputs`: float images in [0, 1], `[count, height, width, channels]`. Other
    channel counts, or no examples (None: scores recomputed from predictions alone, `zoo
    bench compare`), keep no pixels (an empty list).

    >>> from zoo.datasets import Examples
    >>> images = np.zeros((3, 2, 2, 1), "float32"); images[1] = 1.0
    >>> rows = [{"index": i, "target": 0, "prediction": int(i == 1)} for i in range(3)]
    >>> error_pixels(Examples(images, np.zeros(3, int)), rows)
    [[[255, 255], [255, 255]]]
    """
    if examples is None:
        return []
    inputs = np.asarray(examples.inputs)
    if inputs.ndim != 4 or inputs.shape[-1] not in (1, 3):
        return []
    picked = inputs[[x["index"] for x in first_errors(rows, n)]]
    factor = -(-max(inputs.shape[1:3]) // THUMBNAIL)  # ceil
    if factor > 1:  # the mean of each factor x factor block (a ragged edge is dropped)
        count, height, width, channels = picked.shape
        picked = picked[:, :height - height % factor, :width - width % factor].reshape(
            count, height // factor, factor, width // factor, factor, channels).mean((2, 4))
    pixels = np.clip(np.rint(picked * 255), 0, 255).astype("uint8")
    return (pixels[..., 0] if pixels.shape[-1] == 1 else pixels).tolist()


def misclassified(definition, rows, text, images=None):
    """The leaderboard's examples of a classifier (`zoo.tasks.examples`): its first 15 errors,
    in test-set order, with class names; `text`: the rows hold the example's text; `images`:
    the errors' pixels (`error_pixels`, from the record's report), shown as thumbnails (records
    made before reports kept them have none: the note says where to look the image up)."""
    labels = definition.get("labels") or []

    def name(i):
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else i

    wrong = first_errors(rows)
    pictures = list(images or [])
    shown = len(pictures) == len(wrong)  # else not this run's errors: none shown
    note = "The first 15 errors, in test-set order." + (
        "" if text or shown else
        " The record keeps the test index, not the image: look it up in the "
        f"{'' if definition.get('dataset') is None else definition['dataset']} test split.")
    columns = [*([("image", "image")] if shown and wrong else []), ("test index", "index"),
               *([("text", "text")] if text else []), ("true", "text"), ("predicted", "text"),
               ("confidence", "number")]
    table = [[*([pictures[k]] if shown else []), x.get("index"),
              *([x.get("text", "")] if text else []), name(x.get("target")),
              name(x.get("prediction")), x.get("confidence")] for k, x in enumerate(wrong)]
    return {"title": "Misclassified examples", "empty": "None.", "note": note,
            "columns": columns, "rows": table}

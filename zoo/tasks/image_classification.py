"""Image classification: images `[n, height, width, channels]` in [0, 1] -> class logits.

Training batches are `(images, class indices, ones)`; `augment` joins with "+" any of
`AUGMENTATIONS`: "shift" moves each training image by up to 2 pixels along each axis, "flip"
mirrors half of them left to right (stateless random ops seeded by the seed and the batch's
position in training). Predictions are the class of the largest logit and its softmax
probability; scores are accuracy, macro recall and macro F1 with bootstrap intervals.

>>> import numpy as np
>>> from zoo import tasks
>>> from zoo.datasets import Examples
>>> kind = tasks.get("image_classification")
>>> examples = Examples(np.zeros((10, 8, 8, 1), "float32"), np.arange(10) % 3,
...                     label_names=("a", "b", "c"))
>>> kind.model_dims(examples)
({'image_size': 8, 'num_channels': 1, 'num_classes': 3}, {})
>>> x, y, w = next(iter(kind.training_pipeline(examples, 4, seed=0, start_step=0)))
>>> tuple(x.shape), tuple(y.shape), tuple(w.shape)
((4, 8, 8, 1), (4,), (4,))
"""

from __future__ import annotations

from zoo.tasks import _classification, _dims, _evaluation, _losses, _streams

NAME = "image_classification"
TOKENIZED = False
CLASSIFYING = True
INPUTS = "images"  # what `predict` feeds a model (`zoo.tasks.inputs`)
METRICS = _classification.METRICS
LOWER_IS_BETTER = frozenset()
DATASET_KINDS = ("image_classification",)
FILE_KINDS = ("image_folder", "npz")
AUGMENTATIONS = ("flip", "shift")
RECIPE_FIELDS = {"augment": f"augment ({' or '.join(AUGMENTATIONS)} of training images)",
                 "label_smoothing": "label_smoothing"}
BENCHMARK_PREPROCESSING = {"image_scale": _dims.IMAGE_SCALE}
BENCHMARK_FIELDS = {}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the images' `image_size` and `num_channels` and the number of
    classes (`label_names`, default the examples' class names) as defaults a recipe's
    model_overrides may change."""
    return {**_dims.image_dims(examples), **_dims.num_classes(examples, label_names)}, {}


def _shift(images, seed, positions, max_shift):
    """Moves each image by a random whole number of pixels in [-max_shift, max_shift] along
    each axis (zero fill), seeded by the batch's position in training."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    offsets = tf.random.stateless_uniform([n, 2], seed=tf.stack([seed + 2, positions[0]]),
                                          minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32)
    offsets = tf.cast(offsets, tf.float32)
    ones, zeros = tf.ones([n], tf.float32), tf.zeros([n], tf.float32)
    transforms = tf.stack([ones, zeros, offsets[:, 0], zeros, ones, offsets[:, 1], zeros, zeros],
                          axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def _flip(images, seed, positions):
    """Mirrors each image left to right with probability 1/2, seeded by the batch's position
    in training."""
    import tensorflow as tf

    coin = tf.random.stateless_uniform(tf.shape(images)[:1],
                                       seed=tf.stack([seed + 3, positions[0]]))
    return tf.where((coin < 0.5)[:, None, None, None], tf.reverse(images, axis=[2]), images)


def training_pipeline(examples, batch_size, seed, start_step, *, augment=None,
                      per_worker_order=False, **settings):
    """Endless `(images, class indices, ones)` batches (see `zoo.tasks._streams`), with the
    recipe's `augment` ("flip", "shift" or both joined by "+"); other settings do not apply.

    Raises:
        ValueError: an unknown augmentation (a recipe names them first), or fewer examples
            than one batch.
    """
    import numpy as np
    import tensorflow as tf

    kinds = augment.split("+") if augment else []
    unknown = [k for k in kinds if k not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"augment must join {', '.join(AUGMENTATIONS)} with '+'; unknown: "
                         f"{', '.join(map(repr, unknown))}.")
    images = tf.constant(np.asarray(examples.inputs, "float32"))
    labels = _streams.class_indices(examples)

    def transform(idx, positions, seed):
        x = tf.gather(images, idx)
        if "flip" in kinds:
            x = _flip(x, seed, positions)
        if "shift" in kinds:
            x = _shift(x, seed, positions, 2)
        return x, tf.gather(labels, idx), _streams.ones(idx)

    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
                            per_worker_order=per_worker_order)


objective = _losses.classification


def validator(recipe, tokenizer, data_dir=None):
    """None: image classification has no validation during training."""
    return None


def predict(model, tokenizer, examples, spec, batch_size, start=0, columns=None):
    """A row per example from `start`: index, target, prediction, confidence. `columns`: the
    model's logit for each benchmark label (`zoo.harness.labels`).

    Raises:
        EvaluationError: the model takes images of another shape, or has another number of
            classes than the benchmark.
    """
    from zoo.tasks import EvaluationError

    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(examples.inputs.shape[1:])
    if expected != got:
        raise EvaluationError(
            f"The model takes images of shape {expected} but benchmark '{spec.id}' has {got}; "
            "build the model with matching image_size and num_channels."
        )
    _classification.check_classes(model, spec, columns)
    for begin, logits in _evaluation.ahead(_evaluation.logits(model, columns),
                                           _evaluation.stream(examples.inputs, batch_size, start)):
        yield from _classification.rows(logits, examples.targets[begin:begin + len(logits)],
                                        begin)


def score(spec, examples, rows, idx, **context):
    """Accuracy, macro recall and macro F1 (`_classification.score`); the report also keeps
    the images of the first errors (`report.images.misclassified`, uint8 pixels), which the
    leaderboard shows as thumbnails."""
    found, samples, report = _classification.score(spec, examples, rows, idx, **context)
    pixels = _classification.error_pixels(examples, rows)
    if pixels:
        report["images"] = {"misclassified": pixels}
    return found, samples, report


expected_input = _dims.image_input


def examples(definition, rows, report):
    """The leaderboard's examples: the first misclassified images, as thumbnails with their
    true and predicted classes and the confidence."""
    images = ((report or {}).get("images") or {}).get("misclassified")
    return _classification.misclassified(definition, rows, text=False, images=images)

"""Test fixtures several families share (their `family.py` names them in `Fixtures`): a batch
of images for a model's input, and a classification training batch. numpy only; keras is
imported when a loss is made.

>>> import types
>>> model = types.SimpleNamespace(get_config=lambda: {"image_size": [4, 6], "num_channels": 1})
>>> image_batch(model, batch=2).shape
(2, 4, 6, 1)
"""

from __future__ import annotations


def image_batch(model, batch=3, seed=0):
    """Float32 images in [0, 1] of the size and channels in `model`'s config."""
    import numpy as np

    config = model.get_config()
    size = config["image_size"]
    h, w = (size, size) if isinstance(size, int) else size
    return np.random.default_rng(seed).random((batch, h, w, config["num_channels"])).astype(
        "float32")


def classification_batch(model, x, batch):
    """`(x, labels, sparse cross-entropy on logits)` for a classifier with `num_classes`
    outputs; None for a headless one (`num_classes` 0: a feature extractor)."""
    import keras
    import numpy as np

    classes = model.get_config().get("num_classes")
    if not classes:
        return None
    return x, np.arange(batch) % classes, keras.losses.SparseCategoricalCrossentropy(
        from_logits=True)


def image_classifier_batch(model, batch=8, seed=0):
    """A training batch for an image classifier (see `classification_batch`)."""
    return classification_batch(model, image_batch(model, batch, seed), batch)

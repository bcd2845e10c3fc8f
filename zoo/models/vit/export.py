"""ViT's export parts (declared in `family.py`): `classifier` (images -> logits) is every
image classifier's (`zoo.models.savedmodel.image_classifier_part`); `feature_vector` gives
the pooled features the head reads."""

from __future__ import annotations

from zoo.models.savedmodel import image_part


def feature_vector(model, context):
    """`feature_vector`: float32 images in [0, 1] -> `[batch, hidden_dim]`."""
    import keras

    graph = keras.Model(model.input, model.get_layer("head_dropout").input)
    return image_part(model, graph, "feature_vector", context.weights)

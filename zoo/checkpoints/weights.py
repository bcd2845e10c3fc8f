"""Putting a checkpoint's tensors into a zoo model: every variable exactly once, every shape
checked, every tensor of the source either used or named as left out on purpose.

>>> import keras, numpy as np
>>> inputs = keras.Input((2,))
>>> model = keras.Model(inputs, keras.layers.Dense(3, name="d")(inputs))
>>> notes = assign(model, {"d/kernel": np.ones((2, 3)), "d/bias": np.zeros(3)},
...                source="example")
>>> float(model.get_layer("d").kernel.numpy().sum()), notes
(6.0, [])
"""

from __future__ import annotations

import numpy as np

from zoo.checkpoints.errors import ConversionError
from zoo.registry import did_you_mean


def assign(model, values: dict, source: str, unused: dict | None = None) -> list[str]:
    """Sets every variable of `model` from `values` (Keras variable path -> array).

    Args:
        model: a built Keras model.
        values: variable path (`variable.path`, e.g. "encoder_block_0/self_attention/query/kernel")
            -> numpy array of exactly the variable's shape (cast to its dtype).
        source: what the values came from, for messages (a file or folder).
        unused: source tensor name -> why zoo leaves it out (e.g. "the pretraining
            next-sentence head, which zoo's BERT does not have"); returned as notes.

    Returns:
        The notes: one line per tensor of the source left out, with the reason.

    Raises:
        ConversionError: a variable with no value (naming it and the closest given paths), a
            value for no variable, or a shape that differs (naming both shapes).
    """
    by_path = {variable.path: variable for variable in model.weights}
    missing = [path for path in by_path if path not in values]
    if missing:
        hint = did_you_mean(missing[0], [p for p in values if p not in by_path])
        raise ConversionError(
            f"{source}: no value for {len(missing)} of the model's {len(by_path)} variables, "
            f"first {missing[0]}{' (' + hint + ')' if hint else ''}. The converter's name mapping "
            "does not cover this checkpoint's architecture.")
    extra = [path for path in values if path not in by_path]
    if extra:
        raise ConversionError(
            f"{source}: values for variables the model does not have: {', '.join(extra[:5])}"
            f"{' ...' if len(extra) > 5 else ''}. The converter mapped tensors to names zoo's "
            "model does not use: a fault of the converter for this architecture, not of the "
            "checkpoint (please report it with the source).")
    for path, variable in by_path.items():
        value = np.asarray(values[path])
        if tuple(value.shape) != tuple(variable.shape):
            raise ConversionError(
                f"{source}: the checkpoint's tensor for {path} has shape "
                f"{tuple(value.shape)}, but the model built from the source's config has "
                f"{tuple(variable.shape)} there: the config's sizes (widths, layers, "
                "vocabulary, image and patch size) do not describe these weights. Convert "
                "the config saved with the weights.")
    for path, variable in by_path.items():
        variable.assign(np.asarray(values[path]).astype(variable.dtype))
    return [f"left out {name}: {why}" for name, why in sorted((unused or {}).items())]


def built(cls, config: dict, source: str, what: str):
    """`cls(**config)`, the zoo model a converter fills; a configuration the class refuses
    becomes a `ConversionError` naming the source, the model (`what`, e.g. "zoo's ViT") and
    the class's own reason."""
    try:
        return cls(**config)
    except ValueError as e:
        raise ConversionError(f"{source}: {what} cannot take this configuration ({e}).") from None

"""Weights as a published entry stores them: float16, or int8 rows with a float32 scale.

`zoo.entries` writes and reads entries with these; an export with compact weights
(`zoo.models.savedmodel.attach_variables`) holds them the same way and widens them in the
graph. numpy (and, for `dequantize`, keras.ops) only: no TensorFlow at import time.

>>> import numpy as np
>>> parts = store_weight(np.array([[1.0, -2.0], [0.5, 0.25]], "float32"), "int8")
>>> parts[""].dtype.name, [round(float(s), 4) for s in parts[".scale"]]
('int8', [0.0157, 0.0039])
"""

from __future__ import annotations


def store_weight(weight, precision: str) -> dict:
    """One weight as stored: integer weights as they are; float vectors as float16 (int8) or the
    precision; float matrices under int8 as round(w / scale) with one scale per row of the
    weight flattened to [-1, last axis] (symmetric, max |w| / 127), i.e. per token for
    embedding tables, per input unit for kernels."""
    import numpy as np

    if weight.dtype.kind != "f":
        return {"": weight}
    if precision != "int8":
        return {"": weight.astype(precision)}
    if weight.ndim < 2:
        return {"": weight.astype("float16")}
    rows = weight.reshape(-1, weight.shape[-1]).astype("float32")
    scale = np.abs(rows).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    quantized = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype("int8")
    return {"": quantized.reshape(weight.shape), ".scale": scale}


def dequantize(quantized, scale):
    """int8 rows (the weight flattened to [-1, last axis]) times their scale, as float32: for
    numpy arrays at load time and for tensors inside an exported graph alike."""
    from keras import ops

    rows = ops.reshape(ops.cast(quantized, "float32"), (-1, quantized.shape[-1]))
    return ops.reshape(rows * scale[:, None], quantized.shape)


def restore_weight(stored, key: str):
    """The float32 (or integer) array `store_weight` wrote under `key`."""
    import numpy as np

    weight = stored["w" + key]
    if "w" + key + ".scale" not in stored:
        return weight
    return np.asarray(dequantize(weight, stored["w" + key + ".scale"]))

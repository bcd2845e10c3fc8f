"""Which layers of a model Keras quantized, and the same quantized structure on a fresh model.

`model.quantize("int8")` replaces a layer's float kernel (`Dense`) or table (`Embedding`, zoo's
`ReversibleEmbedding`) with an int8 one and a float32 scale per output unit (per token), and
gives the layer an `int8_from_<policy>` dtype policy. A zoo model builds its layers in its
constructor from its own arguments, so its config does not carry those per-layer policies: the
model a config rebuilds is a float one, whose variables (`kernel`, `bias`) are not the saved
ones (`kernel`, `bias`, `kernel_scale`). That is why a quantized zoo model saved as `.keras`
does not reload ("Layer 'query' expected 2 variables, but received 3").

`quantized_layers` lists the quantized layers by path and mode; `requantize` quantizes those
layers of a model rebuilt from the float config, which gives it the saved model's variables in
the same order, ready for the saved values (`zoo.entries.load_folder` does this for an entry
folder with a `quantization.json`, written by `zoo quantize`).

Example:

>>> import keras, numpy as np, warnings
>>> def tiny():
...     inputs = keras.Input((4,))
...     return keras.Model(inputs, keras.layers.Dense(3, name="out")(inputs))
>>> model = tiny()
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     model.quantize("int8")
>>> quantized_layers(model)
{'out': 'int8'}
>>> fresh = tiny()
>>> requantize(fresh, quantized_layers(model))
>>> fresh.set_weights(model.get_weights())
>>> bool(np.allclose(fresh(np.ones((1, 4))), model(np.ones((1, 4)))))
True
"""

from __future__ import annotations

import gc
import warnings

from zoo.safety import ModelFileError


class QuantizationError(ModelFileError):
    """A quantized structure that cannot be rebuilt (a model file or entry folder that cannot
    be loaded): the message names the layer and why."""


def _tree_paths(model) -> dict:
    """`{id(layer): "parent/child"}`: each layer's place among `model`'s tracked layers, by
    their names (the first place, for a layer tracked twice)."""
    found = {}

    def walk(layer, prefix):
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if id(child) not in found:
                found[id(child)] = f"{prefix}{child.name}"
                walk(child, f"{prefix}{child.name}/")

    walk(model, "")
    return found


def _by_path(model) -> dict:
    """`model`'s layers with weights (itself excluded) by path: Keras' `layer.path`, or, for a
    layer without one (a TF Hub layer) or whose path another layer shares (the VAE's encoder
    and decoder each have a Dense `hidden`: Keras gives both the path 'hidden'), its place
    among the model's layers (`encoder/hidden`). Both a saved model and the model its config
    rebuilds give the same keys. Two layers left with one key are refused (the saved
    structure could not say which of them was quantized)."""
    layers = []
    for layer in model._flatten_layers(include_self=False):
        if layer.weights and not any(layer is seen for seen in layers):
            layers.append(layer)
    keras_paths = [layer.path for layer in layers]
    tree = _tree_paths(model)
    by_path = {}
    for layer in layers:
        key = layer.path
        if key is None or keras_paths.count(key) > 1:
            key = tree.get(id(layer), layer.name)
        if key in by_path:
            raise QuantizationError(
                f"{type(model).__name__} has two layers at path {key!r}: which of them "
                "is quantized cannot be recorded; give them distinct names.")
        by_path[key] = layer
    return by_path


def quantized_layers(model) -> dict[str, str]:
    """`{layer path: quantization mode}` of every quantized layer of `model`, in the order of
    `model`'s layers (e.g. `{"encoder_block_0/self_attention/query": "int8", ...}`)."""
    return {path: layer.quantization_mode for path, layer in _by_path(model).items()
            if layer.quantization_mode is not None}


def float_layers(model) -> list[str]:
    """Paths of `model`'s layers that hold float weights of their own and were left in float
    by quantization (Keras quantizes no convolution, normalization or position table): what a
    quantized entry says it kept in float."""
    return [path for path, layer in _by_path(model).items()
            if layer.quantization_mode is None and not list(layer._flatten_layers(
                include_self=False)) and any(
                "float" in str(v.dtype) for v in layer._trainable_variables
                + layer._non_trainable_variables)]


def float_parameters(model) -> dict[str, tuple[str, int]]:
    """`{path: (class name, parameter count)}` of `float_layers(model)`: how much of the
    model quantization left in float, layer by layer."""
    by_path = _by_path(model)
    return {path: (type(by_path[path]).__name__, int(by_path[path].count_params()))
            for path in float_layers(model)}


def requantize(model, layers: dict[str, str]) -> None:
    """Quantizes each layer of the built float `model` that `layers` (`quantized_layers` of the
    saved model) names, in its mode: `model` then has the saved quantized model's variables,
    in the same order, for `set_weights` (their values are recomputed from `model`'s float
    weights and should be overwritten).

    Raises:
        QuantizationError: a path `model` has no layer at, or a layer that cannot be quantized
            in the mode (both named).
    """
    by_path = _by_path(model)
    missing = [path for path in layers if path not in by_path]
    if missing:
        raise QuantizationError(
            f"{type(model).__name__} has no layer at {', '.join(map(repr, missing))}: the "
            "quantized layers were recorded for another model.")
    gc.freeze()  # Keras collects garbage once per layer it quantizes: not the heap built so far
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for path, mode in layers.items():
                layer = by_path[path]
                if layer.quantization_mode == mode:
                    continue
                try:
                    layer.quantize(mode)
                except NotImplementedError as error:
                    raise QuantizationError(
                        f"layer {path!r} ({type(layer).__name__}) cannot be quantized to "
                        f"{mode}: {error}") from None
    finally:
        gc.unfreeze()

"""A Dense layer's affine map over the last axes of a tensor, as one two-dimensional matmul.

Attention and the feed-forward network project `[batch, len, ...]` activations with a
`keras.layers.Dense`'s kernel and bias (same weights, same saved files): the tokens are
flattened to `[batch * len, in]`, projected, and the result reshaped to `[batch, len, *out]`
(heads included, so attention needs no separate split or merge).

Why two dimensions: a `[batch, len, in] @ [in, out]` matmul (what `einsum("bsd,de->bse")`
becomes) broadcasts the kernel over the batch, and its kernel gradient is then computed per
batch element, `[batch, in, out]`, and summed: on a 2-core CPU those sums were ~17% of
ViT-small's training step. Flattened, the kernel gradient is one matmul, and the bias add is a
`BiasAdd` that oneDNN fuses into it.

Two paths, one result:

- A plain Dense (`is_plain`: a float `keras.layers.Dense`, not quantized, without LoRA,
  computing in the caller's dtype) is projected by reading its kernel and bias: `flat @ kernel
  + bias` in that dtype, exactly what Keras' `Dense.call` computes under its dtype policy.
- Any other Dense is called as Keras calls it (`dense(flat)`), so Keras' own features keep
  working: `model.quantize("int8")` (an int8 kernel with a scale per output unit, inputs
  quantized per row), `dense.enable_lora(rank)` (the low-rank update added, only it trainable),
  a Dense given its own dtype policy.

The choice is made in Python when a function is traced, so a plain model's graph is op for op
the graph without the check: the fast path costs nothing.

Example:

>>> import numpy as np, keras
>>> dense = keras.layers.Dense(6)
>>> dense.build((None, 4))
>>> x = np.ones((2, 3, 4), "float32")
>>> y = project(dense, x, "float32", out_shape=(2, 3))  # 6 outputs as 2 heads of 3
>>> tuple(y.shape)
(2, 3, 2, 3)
>>> np.allclose(np.reshape(y, (2, 3, 6)), dense(x), atol=1e-6)
True
>>> z = project(dense, np.ones((2, 3, 2, 2), "float32"), "float32", in_axes=2)  # heads in
>>> np.allclose(z, dense(np.ones((2, 3, 4), "float32")), atol=1e-6)
True
>>> dense.enable_lora(2)  # Keras' path from now on: the LoRA update counts
>>> is_plain(dense, "float32")
False
"""

import contextlib

import keras
from keras import ops

_FORCE_KERAS_PATH = False


@contextlib.contextmanager
def keras_path():
    """Within: every projection calls its Dense as Keras does, plain or not (for functions
    traced within). The reference the fast path is tested and measured against."""
    global _FORCE_KERAS_PATH
    before, _FORCE_KERAS_PATH = _FORCE_KERAS_PATH, True
    try:
        yield
    finally:
        _FORCE_KERAS_PATH = before


def is_plain(dense, dtype) -> bool:
    """Whether `x @ dense.kernel + dense.bias` in `dtype` is exactly what `dense` computes: a
    `keras.layers.Dense` itself (no subclass), not quantized, without LoRA, whose policy
    computes in `dtype`. The fast path is taken only then."""
    return (not _FORCE_KERAS_PATH and type(dense) is keras.layers.Dense
            and dense.quantization_mode is None and not dense.lora_enabled
            and dense.compute_dtype == keras.backend.standardize_dtype(dtype))


def project(dense, x, dtype, in_axes=1, out_shape=None, activation=None):
    """`dense`'s affine map of `x`, contracting the last `in_axes` axes of `x`, in `dtype`; the
    output's last axis is reshaped to `out_shape` when given.

    Args:
        dense: a built `keras.layers.Dense` of `units` outputs.
        x: `[..., *in]`, the last `in_axes` axes holding `dense`'s inputs.
        dtype: the compute dtype of the caller (the result's dtype).
        activation: a function equal to `dense.activation` to apply in its place on the fast
            path (e.g. an exact GELU with a cheaper gradient); None: `dense.activation`. Keras'
            path applies `dense.activation` itself.

    Returns:
        `[..., *out_shape]` (or `[..., units]`) in `dtype`.
    """
    if not is_plain(dense, dtype):
        return _keras_call(dense, x, dtype, in_axes, out_shape)
    kernel = ops.cast(dense.kernel, dtype)
    in_dim, out_dim = kernel.shape
    lead = ops.shape(x)[: len(x.shape) - in_axes]
    flat = ops.reshape(ops.cast(x, dtype), (-1, in_dim))
    y = ops.matmul(flat, kernel)
    if dense.bias is not None:
        y = ops.add(y, ops.cast(dense.bias, dtype))
    y = ops.reshape(y, (*lead, *(out_shape or (out_dim,))))
    return (activation or dense.activation)(y)  # a linear Dense's `linear` adds no op


def _keras_call(dense, x, dtype, in_axes, out_shape):
    """`project` through `dense`'s own call (its quantized kernel, LoRA update, policy and
    activation), on the same two-dimensional flattening."""
    lead = ops.shape(x)[: len(x.shape) - in_axes]
    flat = ops.reshape(x, (-1, dense.input_spec.axes[-1]))
    y = ops.cast(dense(flat), dtype)
    return ops.reshape(y, (*lead, *(out_shape or (dense.units,))))

"""A Dense layer's affine map over the last axes of a tensor, as one two-dimensional matmul.

Attention and the feed-forward network project `[batch, len, ...]` activations with a
`keras.layers.Dense`'s kernel and bias (same weights, same saved files) but not through the
layer's own call: the tokens are flattened to `[batch * len, in]`, multiplied by the kernel
as stored (`[in, out]`), the bias added, and the result reshaped to `[batch, len, *out]`
(heads included, so attention needs no separate split or merge).

Why two dimensions: a `[batch, len, in] @ [in, out]` matmul (what `einsum("bsd,de->bse")`
becomes) broadcasts the kernel over the batch, and its kernel gradient is then computed per
batch element, `[batch, in, out]`, and summed: on a 2-core CPU those sums were ~17% of
ViT-small's training step. Flattened, the kernel gradient is one matmul, and the bias add is a
`BiasAdd` that oneDNN fuses into it.

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
"""

from keras import ops


def project(dense, x, dtype, in_axes=1, out_shape=None):
    """`x @ kernel + bias` of `dense` (no activation) in `dtype`, contracting the last
    `in_axes` axes of `x`; the output's last axis is reshaped to `out_shape` when given."""
    kernel = ops.cast(dense.kernel, dtype)
    in_dim, out_dim = kernel.shape
    lead = ops.shape(x)[: len(x.shape) - in_axes]
    flat = ops.reshape(ops.cast(x, dtype), (-1, in_dim))
    y = ops.add(ops.matmul(flat, kernel), ops.cast(dense.bias, dtype))
    return ops.reshape(y, (*lead, *(out_shape or (out_dim,))))

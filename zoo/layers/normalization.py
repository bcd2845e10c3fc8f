"""Layer normalization over the last axis with its backward pass written out.

`LayerNorm` is `keras.layers.LayerNormalization` (same arguments, weights, config and outputs
within float32 rounding) whose gradient is the closed form rather than what automatic
differentiation makes of the forward ops. With `n = (x - mean) / std`:

    dx     = (g - mean(g) - n * mean(g * n)) / std,   g = upstream * gamma
    dgamma = sum(upstream * n),   dbeta = sum(upstream)   (over every axis but the last)

Differentiating Keras' forward pass instead gives a dozen broadcasting ops, each with its
own reduction in the backward pass; on a 2-core CPU that made layer norms about a quarter of
ViT-tiny's training step (`scripts/bench_performance.py`). Statistics are computed in float32
(or float64 for float64 inputs) under any dtype policy, as Keras does.

Example:

>>> import numpy as np, keras
>>> x = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
>>> ours, theirs = LayerNorm(epsilon=1e-5), keras.layers.LayerNormalization(epsilon=1e-5)
>>> np.allclose(ours(x), theirs(x), atol=1e-5)
True
"""

import keras
from keras import ops


def layer_norm(x, gamma, beta, epsilon):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last axis of `x`, with the
    closed-form gradient for `x`, `gamma` and `beta` (all of one floating dtype)."""

    @ops.custom_gradient
    def forward(x, gamma, beta):
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        inv_std = ops.rsqrt(ops.mean(ops.square(centered), axis=-1, keepdims=True) + epsilon)
        normed = centered * inv_std

        def backward(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            g = upstream * gamma
            dx = inv_std * (g - ops.mean(g, axis=-1, keepdims=True)
                            - normed * ops.mean(g * normed, axis=-1, keepdims=True))
            leading = tuple(range(len(upstream.shape) - 1))
            return dx, ops.sum(upstream * normed, axis=leading), ops.sum(upstream, axis=leading)

        return normed * gamma + beta, backward

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package="zoo")
class LayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` with the closed-form gradient (see the module).

    Normalizing over the last axis with both `gamma` and `beta` takes the fast path; any other
    configuration (several axes, `rms_scaling`, no centering or scaling) runs Keras' own.
    """

    def call(self, inputs):
        last = len(inputs.shape) - 1
        if (list(self.axis) not in ([-1], [last]) or self.rms_scaling
                or self.gamma is None or self.beta is None):
            return super().call(inputs)
        dtype = keras.backend.result_type(inputs.dtype, "float32")  # as Keras computes it
        out = layer_norm(ops.cast(inputs, dtype), ops.cast(self.gamma, dtype),
                         ops.cast(self.beta, dtype), self.epsilon)
        return ops.cast(out, self.compute_dtype)

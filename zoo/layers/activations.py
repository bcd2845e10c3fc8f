"""The exact GELU with its backward pass written out.

`gelu(x) = x * Phi(x)`, `Phi` the standard normal CDF, as `keras.activations.gelu(x,
approximate=False)` (BERT's and ViT's activation). Its gradient is `Phi(x) + x * phi(x)`, `phi`
the normal density; the forward pass keeps `Phi(x)` for it, so the backward pass is four
elementwise ops instead of what autodiff makes of `erf`. Inputs in a 16-bit float are computed
in float32 and the result cast back: on CPUs the 16-bit elementwise kernels are the slower ones.
Measured against Keras' GELU in zoo's training step on 2 cores (`train_on_batch`, interleaved
rounds, ms): ViT-tiny 76.3 -> 68.6, BERT-tiny 103.4 -> 97.1, ViT-small 352.9 -> 347.8, and
ViT-small in mixed_bfloat16 267.7 -> 248.1.

Example:

>>> import numpy as np, keras
>>> x = np.linspace(-4, 4, 9).astype("float32")
>>> np.allclose(gelu(x), keras.activations.gelu(x, approximate=False), atol=1e-6)
True
"""

import math

import keras
from keras import ops

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x):
    """`x * Phi(x)` with the closed-form gradient (see the module)."""

    @ops.custom_gradient
    def forward(x):
        cdf = 0.5 * (1.0 + ops.erf(x * _INV_SQRT_2))

        def backward(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return upstream * (cdf + x * ops.exp(-0.5 * ops.square(x)) * _INV_SQRT_2PI)

        return x * cdf, backward

    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(forward(ops.cast(x, "float32")), dtype)
    return forward(x)

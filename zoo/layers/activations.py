"""The GELUs with their backward passes written out: the exact one and GPT-2's tanh form.

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
>>> np.allclose(gelu_approximate(x), keras.activations.gelu(x, approximate=True), atol=1e-6)
True

`gelu_approximate` is GPT-2's GELU, `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 *
x^3)))` (Hendrycks and Gimpel, 2016), which Keras has as `gelu(x, approximate=True)` but under
no activation name: `FeedForward(activation="gelu_approximate")` names it. Its gradient is
written out the same way, keeping `tanh` from the forward pass.
"""

import math

import keras
from keras import ops

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


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


def gelu_approximate(x):
    """`0.5 * x * (1 + tanh(u))`, `u = sqrt(2 / pi) * (x + 0.044715 * x^3)`, with the
    closed-form gradient `0.5 * (1 + t) + 0.5 * x * (1 - t^2) * du/dx` (`t = tanh(u)`, kept
    from the forward pass); 16-bit inputs are computed in float32, as `gelu`."""

    @ops.custom_gradient
    def forward(x):
        squared = ops.square(x)
        t = ops.tanh(_SQRT_2_OVER_PI * x * (1.0 + _CUBIC * squared))

        def backward(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _CUBIC * squared)
            return upstream * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - ops.square(t)) * du)

        return 0.5 * x * (1.0 + t), backward

    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(forward(ops.cast(x, "float32")), dtype)
    return forward(x)

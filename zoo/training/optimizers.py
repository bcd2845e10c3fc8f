"""Adam and AdamW whose update is one fused kernel per variable on TensorFlow.

Keras' Adam updates a variable with about ten elementwise ops, each a pass over the variable
or its two moments, plus a few scalar ones; TensorFlow's `ResourceApplyAdam` does the same
arithmetic in one pass:

    m += (g - m) * (1 - beta_1);   v += (g * g - v) * (1 - beta_2)
    variable -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

These classes are `keras.optimizers.Adam` and `AdamW` with only `update_step` replaced: same
arguments, slot variables, checkpoints and config, and the same results within float32
rounding (AdamW's decoupled weight decay is still Keras' own step). AMSGrad, and backends
other than TensorFlow, take Keras' update.

Sparse gradients (embedding lookups) keep Keras' meaning too: given one, Keras' Adam adds the
squares of a repeated row's slices to the second moment, not the square of their sum as a
dense gradient would. Before the fused update, the difference is scattered into `v` on the
rows the batch touched, scaled so that the fused `v * beta_2 + g^2 * (1 - beta_2)` comes out
as Keras' `v * beta_2 + sum(slice^2) * (1 - beta_2)`.

Example:

>>> import numpy as np, keras
>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
>>> model.compile(optimizer=AdamW(learning_rate=0.1, weight_decay=0.01), loss="mse")
>>> x, y = np.ones((4, 3), "float32"), np.full((4, 1), 4.0, "float32")  # far from the start
>>> first, *_ = [model.train_on_batch(x, y) for _ in range(20)]
>>> bool(model.train_on_batch(x, y) < first)
True
"""

import keras
from keras import ops


def _handle(variable):
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


def _fused_adam_update(optimizer, gradient, variable, learning_rate):
    import tensorflow as tf

    dtype = variable.dtype
    index = optimizer._get_variable_index(variable)
    step = ops.cast(optimizer.iterations + 1, dtype)
    beta_1, beta_2 = ops.cast(optimizer.beta_1, dtype), ops.cast(optimizer.beta_2, dtype)
    velocity = _handle(optimizer._velocities[index])
    if isinstance(gradient, tf.IndexedSlices):
        rows, slot = tf.unique(gradient.indices)
        values = ops.cast(gradient.values, dtype)
        summed = tf.math.unsorted_segment_sum(values, slot, tf.shape(rows)[0])
        squares = tf.math.unsorted_segment_sum(ops.square(values), slot, tf.shape(rows)[0])
        tf.raw_ops.ResourceScatterAdd(
            resource=velocity, indices=rows,
            updates=(squares - ops.square(summed)) * ((1 - beta_2) / beta_2))
    tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable),
        m=_handle(optimizer._momentums[index]),
        v=velocity,
        beta1_power=ops.power(beta_1, step),
        beta2_power=ops.power(beta_2, step),
        lr=ops.cast(learning_rate, dtype),
        beta1=beta_1,
        beta2=beta_2,
        epsilon=ops.cast(optimizer.epsilon, dtype),
        grad=ops.cast(tf.convert_to_tensor(gradient), dtype),
    )


def _fused(optimizer):
    return (not optimizer.amsgrad and optimizer.beta_2 > 0
            and keras.backend.backend() == "tensorflow")


class _FusedUpdate:
    """`update_step` as one fused kernel when `_fused` allows, else the parent's."""

    def update_step(self, gradient, variable, learning_rate):
        if not _fused(self):
            return super().update_step(gradient, variable, learning_rate)
        _fused_adam_update(self, gradient, variable, learning_rate)


@keras.saving.register_keras_serializable(package="zoo")
class Adam(_FusedUpdate, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with a fused update (see the module)."""


@keras.saving.register_keras_serializable(package="zoo")
class AdamW(_FusedUpdate, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with a fused Adam update (see the module)."""

"""Token and position embeddings."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class ReversibleEmbedding(keras.layers.Embedding):
    """An embedding whose matrix can also project hidden states back to the vocabulary.

    `layer(ids)` looks tokens up; `layer(hidden, reverse=True)` returns
    `hidden @ embeddings.T`, the tied output projection of Press and Wolf (2017)
    used by the Transformer and by BERT's masked-LM head.

    Example:

    >>> import numpy as np
    >>> emb = ReversibleEmbedding(10, 4)
    >>> tuple(emb(np.array([[1, 2]])).shape)
    (1, 2, 4)
    >>> tuple(emb(np.zeros((1, 2, 4), "float32"), reverse=True).shape)
    (1, 2, 10)
    """

    def call(self, inputs, reverse=False):
        if reverse:
            kernel = ops.cast(ops.transpose(self.embeddings), self.compute_dtype)
            return ops.matmul(inputs, kernel)
        return super().call(inputs)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            shape = tuple(inputs.shape[:-1]) + (self.input_dim,)
            return keras.KerasTensor(shape, dtype=self.compute_dtype)
        return super().compute_output_spec(inputs)


@keras.saving.register_keras_serializable(package="zoo")
class PositionEmbedding(keras.layers.Layer):
    """Learned position embeddings added to a `[batch, length, dim]` sequence.

    Args:
        max_length: int. Longest sequence the layer accepts.

    Call arguments:
        x: `[batch, length, dim]`.
        start_index: int or scalar tensor. Position of `x[:, 0]` (for
            incremental decoding).

    Example:

    >>> import numpy as np
    >>> tuple(PositionEmbedding(16)(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if int(max_length) <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}.")
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def positions(self, length, start_index=0):
        table = ops.cast(self.position_embeddings, self.compute_dtype)
        return ops.slice(table, (start_index, 0), (length, ops.shape(table)[1]))

    def call(self, x, start_index=0):
        return x + ops.expand_dims(self.positions(ops.shape(x)[1], start_index), 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """The fixed sine/cosine position encoding of Vaswani et al. (2017); no weights.

    Example:

    >>> import numpy as np
    >>> tuple(SinusoidalPositionEmbedding()(np.zeros((1, 3, 8), "float32")).shape)
    (1, 3, 8)
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def positions(self, length, dim, start_index=0):
        position = ops.cast(ops.arange(length) + start_index, "float32")
        half = dim // 2
        timescale = ops.exp(
            ops.arange(half, dtype="float32") * (-math.log(self.max_wavelength) / half)
        )
        angles = position[:, None] * timescale[None, :]
        # Interleave sin and cos so that dims (2i, 2i+1) hold (sin, cos) of frequency i.
        table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, 2 * half))
        if dim % 2:
            table = ops.pad(table, [[0, 0], [0, 1]])
        return ops.cast(table, self.compute_dtype)

    def call(self, x, start_index=0):
        shape = ops.shape(x)
        return x + ops.expand_dims(self.positions(shape[1], x.shape[-1], start_index), 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config

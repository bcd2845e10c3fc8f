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

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras' int8 quantization of an `Embedding` (`model.quantize("int8")` calls it): the
        table as int8 with one scale per token (symmetric, `max |row| / 127`), looked up as
        Keras does; the tied output projection then runs on the int8 table too (`_int8_call`).

        Raises:
            NotImplementedError: for any other mode, naming the layer (`model.quantize`
                warns and leaves the layer in float).
        """
        if mode != "int8":
            raise NotImplementedError(
                f"zoo's ReversibleEmbedding {self.name!r} quantizes to int8 only, not {mode!r}: "
                "its tied output projection has no other quantized path.")
        super().quantize(mode, type_check=False, config=config)

    def _int8_call(self, inputs, reverse=False, **kwargs):
        """A quantized table's lookup (Keras' own), or its tied output projection as Keras'
        int8 Dense computes one: the hidden states quantized per row (dynamic, symmetric
        int8), an integer matmul with the int8 table transposed, and the result divided by
        both scales, `(q_x @ q_E.T) / (s_x * s_E)`; the table's per-token scale is the
        projection's per-output-unit scale. A LoRA update adds `x @ (alpha / rank * A @ B).T`.

        Args:
            inputs: token ids `[...]` (lookup), or hidden states `[..., output_dim]`.

        Returns:
            `[..., output_dim]` embeddings, or `[..., input_dim]` logits, in the compute dtype.
        """
        if not reverse:
            return super()._int8_call(inputs, **kwargs)
        hidden = ops.cast(inputs, self.compute_dtype)
        quantized, scale = keras.quantizers.abs_max_quantize(hidden, axis=-1)
        logits = ops.matmul(quantized, ops.transpose(self._embeddings))
        logits = ops.divide(ops.cast(logits, self.compute_dtype),
                            ops.multiply(ops.cast(scale, self.compute_dtype),
                                         ops.cast(self.embeddings_scale, self.compute_dtype)))
        if self.lora_enabled:
            update = ops.matmul(ops.matmul(hidden, ops.transpose(self.lora_embeddings_b)),
                                ops.transpose(self.lora_embeddings_a))
            logits = ops.add(logits, ops.cast((self.lora_alpha / self.lora_rank) * update,
                                              self.compute_dtype))
        return logits

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

    Dimension pair `i` of position `p` uses the angle `p / max_wavelength ** (2 i / dim)`.

    Args:
        max_wavelength: float. The longest wavelength (10,000 in the paper).
        layout: "interleaved" (zoo's Transformer: dims `(2i, 2i + 1)` hold `(sin, cos)` of
            frequency `i`, computed in float32) or "concatenated" (Marian's and Transformers'
            `MarianSinusoidalPositionalEmbedding`: `[sin of every frequency | cos of every
            frequency]`, computed in float64 and rounded to float32 as Marian's table is, so the
            two tables agree bit for bit; float32 angles would differ by up to 8e-5 at position
            1,000). An odd `dim` is refused for "concatenated".

    Example:

    >>> import numpy as np
    >>> tuple(SinusoidalPositionEmbedding()(np.zeros((1, 3, 8), "float32")).shape)
    (1, 3, 8)
    >>> table = SinusoidalPositionEmbedding(layout="concatenated").positions(3, 4)
    >>> np.allclose(table[2], [np.sin(2), np.sin(0.02), np.cos(2), np.cos(0.02)])
    True
    """

    LAYOUTS = ("interleaved", "concatenated")

    def __init__(self, max_wavelength=10000, layout="interleaved", **kwargs):
        super().__init__(**kwargs)
        if layout not in self.LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(self.LAYOUTS)}, got {layout!r}.")
        self.max_wavelength = float(max_wavelength)
        self.layout = layout

    def positions(self, length, dim, start_index=0):
        if self.layout == "concatenated":
            return self._concatenated(length, dim, start_index)
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

    def _concatenated(self, length, dim, start_index):
        if dim % 2:
            raise ValueError(f"The concatenated sinusoidal layout needs an even width, got {dim}.")
        position = ops.cast(ops.arange(length) + start_index, "float64")
        exponent = ops.arange(dim // 2, dtype="float64") * (2.0 / dim)
        wavelength = ops.power(ops.cast(self.max_wavelength, "float64"), exponent)
        angles = position[:, None] / wavelength[None, :]
        table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        return ops.cast(ops.cast(table, "float32"), self.compute_dtype)

    def call(self, x, start_index=0):
        shape = ops.shape(x)
        return x + ops.expand_dims(self.positions(shape[1], x.shape[-1], start_index), 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength, "layout": self.layout})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class OutputBias(keras.layers.Layer):
    """A bias added to every position's logits: `logits + bias`, `bias` of shape `[units]`.

    The tied output projection (`ReversibleEmbedding(..., reverse=True)`) has no bias of its
    own; Marian (and Transformers' `MarianMTModel`) add `final_logits_bias` after it. Marian
    keeps that bias fixed (a buffer, not a parameter), and so does this layer by default
    (`trainable=False`): fine-tuning leaves it as converted.

    Args:
        units: int. The vocabulary size.

    Example:

    >>> import numpy as np
    >>> layer = OutputBias(3)
    >>> tuple(layer(np.zeros((1, 2, 3), "float32")).shape), layer.trainable
    ((1, 2, 3), False)
    """

    def __init__(self, units, trainable=False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        if int(units) <= 0:
            raise ValueError(f"units must be positive, got {units}.")
        self.units = int(units)

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, logits):
        return logits + ops.cast(self.bias, logits.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config

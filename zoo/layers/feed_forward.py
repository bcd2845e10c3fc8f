"""The position-wise feed-forward network of a transformer block."""

import keras

from zoo.layers.activations import gelu, gelu_approximate
from zoo.layers.projection import project

#: Activations Keras has no name for: the hidden Dense is linear, and the activation is applied
#: to its output on either projection path (`zoo.layers.projection`).
_OWN_ACTIVATIONS = {"gelu_approximate": gelu_approximate}


@keras.saving.register_keras_serializable(package="zoo")
class FeedForward(keras.layers.Layer):
    """`Dense(intermediate_dim, activation) -> Dropout -> Dense(dim)`.

    Args:
        intermediate_dim: int. Width of the hidden layer.
        activation: str. Activation of the hidden layer ("relu", "gelu", ...).
            "gelu" is the exact (erf) form, as in BERT and ViT, with its closed-form
            gradient (`zoo.layers.activations.gelu`); "gelu_approximate" is GPT-2's tanh
            form (`zoo.layers.activations.gelu_approximate`).
        dropout: float. Dropout after the activation.

    Example:

    >>> import numpy as np
    >>> tuple(FeedForward(16)(np.zeros((2, 3, 8), "float32")).shape)
    (2, 3, 8)
    """

    def __init__(self, intermediate_dim, activation="relu", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if int(intermediate_dim) <= 0:
            raise ValueError(f"intermediate_dim must be positive, got {intermediate_dim}.")
        self.intermediate_dim = int(intermediate_dim)
        self.activation = activation
        self.dropout = float(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        own = self.activation in _OWN_ACTIVATIONS
        self.inner = keras.layers.Dense(
            self.intermediate_dim, activation=None if own else self.activation,
            name="intermediate", dtype=self.dtype_policy
        )
        self.outer = keras.layers.Dense(dim, name="output", dtype=self.dtype_policy)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.inner.build(input_shape)
        self.outer.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))

    def call(self, x, training=None):
        # Each Dense as one two-dimensional matmul (zoo/layers/projection.py says why), "gelu"
        # as the exact GELU with its closed-form gradient (zoo/layers/activations.py says why).
        own = _OWN_ACTIVATIONS.get(self.activation)
        h = project(self.inner, x, self.compute_dtype,
                    activation=gelu if self.activation == "gelu" else None)
        if own is not None:  # the Dense is linear: the same on the fast and on Keras' path
            h = own(h)
        h = self.dropout_layer(h, training=training)
        return project(self.outer, h, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
            }
        )
        return config

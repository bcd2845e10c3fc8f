"""Multi-head attention with an optional key/value cache.

One implementation serves the Transformer's encoder, decoder self-attention
(cached during decoding) and cross-attention, BERT and ViT.
"""

import math

import keras
from keras import ops

from zoo.layers.projection import project


@keras.saving.register_keras_serializable(package="zoo")
class MultiHeadAttention(keras.layers.Layer):
    """Scaled dot-product attention over `num_heads` heads (Vaswani et al., 2017).

    Query, key, value and output projections are separate `Dense` layers with
    bias, so a layer of width `d` holds `4 * (d * d + d)` parameters.

    Args:
        num_heads: int. Number of heads; must divide the input width.
        dropout: float. Dropout on the attention probabilities.

    Call arguments:
        query: `[batch, q_len, dim]`.
        value: `[batch, k_len, dim]`, or `None` for self-attention.
        attention_mask: bool `[batch, q_len, k_len]` (or broadcastable); `True`
            where a query may attend to a key.
        cache: `[batch, 2, max_len, heads, head_dim]` keys and values. With
            `cache_update_index`, the keys and values of `query` are written
            into it at that position (incremental self-attention) and the call
            returns `(output, cache)`. Without it, the cache is read as is
            (precomputed cross-attention keys and values).

    Example:

    >>> import numpy as np
    >>> layer = MultiHeadAttention(num_heads=2)
    >>> tuple(layer(np.zeros((1, 3, 8), "float32")).shape)
    (1, 3, 8)
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) <= 0:
            raise ValueError(f"num_heads must be positive, got {num_heads}.")
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)

    def build(self, query_shape, value_shape=None):
        dim = query_shape[-1]
        if dim % self.num_heads:
            raise ValueError(
                f"The hidden size {dim} must be divisible by num_heads={self.num_heads}."
            )
        self.head_dim = dim // self.num_heads
        value_shape = value_shape or query_shape
        self.query_dense = keras.layers.Dense(dim, name="query", dtype=self.dtype_policy)
        self.key_dense = keras.layers.Dense(dim, name="key", dtype=self.dtype_policy)
        self.value_dense = keras.layers.Dense(dim, name="value", dtype=self.dtype_policy)
        self.output_dense = keras.layers.Dense(dim, name="attention_output", dtype=self.dtype_policy)
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build(query_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _heads(self, dense, x):
        """`dense` applied to `[batch, len, dim]` straight into heads `[batch, len, heads,
        head_dim]` (see `projection`)."""
        return project(dense, x, self.compute_dtype, out_shape=(self.num_heads, self.head_dim))

    def _merge_heads(self, x):
        """The output projection of `[batch, len, heads, head_dim]`."""
        return project(self.output_dense, x, self.compute_dtype, in_axes=2)

    def project_key_value(self, value):
        """Keys and values of `value` stacked as a cache `[batch, 2, len, heads, head_dim]`."""
        key = self._heads(self.key_dense, value)
        val = self._heads(self.value_dense, value)
        return ops.stack([key, val], axis=1)

    def call(
        self,
        query,
        value=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        q = self._heads(self.query_dense, query)
        source = query if value is None else value
        if cache is None:  # no stacking and slicing of keys and values (costly backward)
            key, val = self._heads(self.key_dense, source), self._heads(self.value_dense, source)
        elif cache_update_index is None:
            key, val = cache[:, 0], cache[:, 1]
        else:
            start = [0, 0, cache_update_index, 0, 0]
            kv = self.project_key_value(source)
            cache = ops.slice_update(cache, start, ops.cast(kv, cache.dtype))
            key, val = cache[:, 0], cache[:, 1]

        q = q * ops.cast(1.0 / math.sqrt(self.head_dim), q.dtype)
        scores = ops.einsum("bqnh,bknh->bnqk", q, key)
        scores = ops.cast(scores, "float32")
        if attention_mask is not None:
            # An additive bias broadcast over heads: cheaper than selecting from a full tensor.
            blocked = 1.0 - ops.cast(ops.expand_dims(attention_mask, axis=1), "float32")
            scores = scores + blocked * -1e9
        probs = ops.softmax(scores, axis=-1)
        probs = ops.cast(probs, self.compute_dtype)
        probs = self.dropout_layer(probs, training=training)
        out = self._merge_heads(ops.einsum("bnqk,bknh->bqnh", probs, val))
        if cache is not None and cache_update_index is not None:
            return out, cache
        return out

    def compute_output_shape(self, query_shape, value_shape=None):
        return query_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "dropout": self.dropout})
        return config
